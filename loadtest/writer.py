"""One simulated writer: an editor tab that opens a draft, types, pauses,
reads suggestions and types over them.

A writer opens a draft of a length drawn from the run's distribution (through
the backend: created with the REST API as the editor creates one, then read
back and watched, as opening it does), sends a `prewarm` for it as the editor
does on opening, pauses within seconds (`open_pause`) and asks for its first
suggestion, which is also timed on its own. It then types in bursts (every
few seconds a `prewarm` of new text, as the editor's prewarm timer sends it),
and after `draft_seconds` (drawn from 0.5-1.5 times it) closes the draft and
opens another.
"""
from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from . import prose
from .drafts import DraftLengths, preset
from .report import Recorder

# The editor's prompt window (frontend/src/suggest/window.ts): past the
# model's limit the start is cut at a multiple of a large step, so it stays
# put while the writer types and the model's prefix cache keeps matching.
WINDOW_STEP = 50_000


def prompt_window(text: str, max_chars: int | None) -> str:
    """The part of the draft a request sends, as the editor cuts it."""
    if max_chars is None or len(text) <= max_chars:
        return text
    step = max(1, min(WINDOW_STEP, max_chars // 4))  # small (test) limits: a quarter of the limit
    start = -(-(len(text) - max_chars) // step) * step
    return text[start:]


@dataclass(frozen=True)
class Behaviour:
    """How writers type and what they ask for (defaults: the editor's)."""

    max_tokens: int = 24
    n: int = 3
    temperature: float = 0.8
    words_per_minute: float = 60.0
    burst_words: tuple[int, int] = (2, 10)  # words typed between pauses
    debounce: float = 0.4  # pause before the editor asks
    read_time: tuple[float, float] = (0.5, 2.0)  # looking at a suggestion
    type_over: float = 0.3  # chance of typing on while a suggestion streams
    replace: float = 0.5  # of those, share that reuse the id (backend only) instead of cancelling
    accept: float = 0.3  # chance of taking a finished suggestion
    # Most of the draft a prompt carries, cut as the editor cuts it; the editor
    # sends up to the model's max_prompt_chars, which the backend reports and
    # the writer also applies.
    prompt_chars: int = 200_000
    request_timeout: float = 60.0
    autosave_every: float = 10.0  # seconds; 0 = never
    open_pause: float = 3.0  # seconds from opening a draft to the pause that asks for the first suggestion
    draft_seconds: float = 60.0  # time on one draft (x 0.5-1.5) before opening another; 0 = one draft
    prewarm: bool = True  # send `prewarm` on opening and while typing, as the editor does
    prewarm_every: float = 3.0  # seconds between the editor's prewarm checks


@dataclass(frozen=True)
class Target:
    ws_url: str
    model: str
    origin: str | None = None  # backend sockets check it
    http_url: str | None = None  # backend: REST for drafts and autosave
    max_prompt_chars: int | None = None  # the model's limit, when the backend reports it

    @property
    def backend(self) -> bool:
        """The backend's /ws/compose/ (it checks the Origin), not a route socket."""
        return self.origin is not None


@dataclass(eq=False)
class Stream:
    id: str
    n: int
    sent: float
    measured: bool
    open: set[int]
    first: bool = False  # the first suggestion after opening a draft
    typed_over: bool = False  # the writer typed on while it streamed
    sampled: bool = False  # its TTFT is recorded (first token, or its age when typed over)
    last: dict[int, float] = field(default_factory=dict)
    text: dict[int, str] = field(default_factory=dict)
    cancelled_by_writer: bool = False
    outcome: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Writer:
    def __init__(self, index: int, target: Target, behaviour: Behaviour, rec: Recorder, rng: random.Random,
                 drafts: DraftLengths | None = None, words: prose.Prose | None = None):
        self.index, self.target, self.b, self.rec, self.rng = index, target, behaviour, rec, rng
        self.loop = asyncio.get_running_loop()
        self.streams: dict[str, Stream] = {}
        self.prewarm_ids: dict[str, bool] = {}  # id -> sent in the measured window
        self.count = 0
        self.drafts = drafts or preset("short")
        self.words = words or prose.Prose(random.Random(f"prose:{index}"))
        self.body = ""
        self.http: httpx.AsyncClient | None = None
        self.document: dict | None = None
        self.ws: ClientConnection | None = None
        self._saved_at = 0.0
        self._warm_prompt: str | None = None  # the last prompt sent (prewarm or generate)
        self._opening = False  # the next pause is the first after opening a draft
        self.drafts_opened = 0
        limit = target.max_prompt_chars
        self.prompt_chars = min(behaviour.prompt_chars, limit) if limit else behaviour.prompt_chars

    # --- the writer's day ---------------------------------------------------

    async def run(self, stop_at: float) -> None:
        try:
            while self.loop.time() < stop_at:
                try:
                    await self._open_draft()
                except httpx.HTTPError as e:
                    # The drafts API failing fails the writer's stage as a socket would; retry like the editor.
                    self._failed("drafts_api", f"drafts API: {type(e).__name__}: {e}")
                    await asyncio.sleep(1.0)
                    continue
                until = stop_at
                if self.b.draft_seconds:
                    until = min(stop_at, self.loop.time() + self.b.draft_seconds * self.rng.uniform(0.5, 1.5))
                while self.loop.time() < until:
                    try:
                        await self._session(until)
                    except ConnectionClosed:
                        pass  # its streams already counted as errors; reconnect like the editor does
                    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
                        self._failed("connect_failed", f"{type(e).__name__}: {e}")
                        await asyncio.sleep(1.0)
        finally:
            if self.http is not None:
                await self.http.aclose()

    def _failed(self, code: str, why: str) -> None:
        self.rec.connect_failures += 1
        if self.loop.time() >= self.rec.since:
            self.rec.error(code)
        self.rec.last_failure = why

    async def _session(self, until: float) -> None:
        headers = {}
        if self.http is not None:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        async with connect(self.target.ws_url, origin=self.target.origin, additional_headers=headers,
                           open_timeout=10, close_timeout=2, max_size=2**22, proxy=None) as ws:
            reader = asyncio.create_task(self._read(ws))
            self.ws = ws
            ticker = asyncio.create_task(self._prewarm_ticker())
            try:
                if self.document is not None:
                    await ws.send(json.dumps({"type": "watch", "document": self.document["id"]}))
                # A new draft or a new connection: the editor prewarms the text at once.
                self._warm_prompt = None
                await self._prewarm()
                if self._opening:
                    await self._settle()
                while self.loop.time() < until and not reader.done():
                    if not self._opening:
                        await self._type()
                    if self.loop.time() >= until:
                        break
                    await asyncio.sleep(self.b.debounce)
                    first, self._opening = self._opening, False
                    await self._suggest(ws, first)
                    await self._autosave()
                    await asyncio.sleep(self.rng.uniform(*self.b.read_time))
            finally:
                self.ws = None
                ticker.cancel()
                reader.cancel()
                self._drop_all("connection_closed")

    async def _settle(self) -> None:
        """After opening: read for a moment, type a word or three, pause,
        `open_pause` seconds after the draft opened."""
        words = self.rng.randint(0, 3)
        typing = words * 60.0 / self.b.words_per_minute
        await asyncio.sleep(max(0.0, self.b.open_pause - typing))
        if words:
            await self._type(words)

    async def _type(self, words: int | None = None) -> None:
        words = words or self.rng.randint(*self.b.burst_words)
        for word in self.words.words(words):
            await asyncio.sleep(60.0 / self.b.words_per_minute)
            self.body = prose.join(self.body, [word])

    def _prompt(self) -> str:
        return prompt_window(self.body, self.prompt_chars)

    async def _prewarm_ticker(self) -> None:
        while True:
            await asyncio.sleep(self.b.prewarm_every)
            await self._prewarm()

    async def _prewarm(self) -> None:
        """The editor's prewarm (frontend/src/suggest/prewarm.ts): the draft as
        the next prompt would send it, when it differs from the last prompt
        sent and no suggestion is being asked for. Through the backend it
        carries no id (nothing is answered); straight to a route socket it
        needs one, and the `done` it gets is counted."""
        if not self.b.prewarm or self.ws is None:
            return
        if any(not s.ended.is_set() and not s.typed_over for s in self.streams.values()):
            return  # that request prefills the same text anyway
        prompt = self._prompt()
        if prompt == self._warm_prompt:
            return
        self._warm_prompt = prompt
        msg = {"type": "prewarm", "model": self.target.model, "prompt": prompt}
        if self.document is not None:
            msg["document"] = self.document["id"]
        if not self.target.backend:
            self.count += 1
            msg["id"] = f"p{self.index}-{self.count}"
        measured = self.loop.time() >= self.rec.since
        if measured:
            self.rec.prewarms["sent"] += 1
        if "id" in msg:
            self.prewarm_ids[msg["id"]] = measured
        try:
            await self.ws.send(json.dumps(msg))
        except ConnectionClosed:
            pass  # the session's loop sees the closed socket

    async def _suggest(self, ws: ClientConnection, first: bool = False) -> None:
        stream = await self._generate(ws, self._new_id(), measured=True, first=first)
        if self.rng.random() < self.b.type_over:
            try:
                await asyncio.wait_for(stream.ended.wait(), self.rng.uniform(0, 3 * self.b.debounce + 1.0))
            except TimeoutError:
                self._typed_over(stream)
                await self._type(self.rng.randint(1, 3))
                if self.target.http_url and self.rng.random() < self.b.replace:
                    stream = await self._replace(ws, stream)
                elif not stream.ended.is_set():
                    stream.cancelled_by_writer = True
                    await ws.send(json.dumps({"type": "cancel", "id": stream.id}))
        try:
            await asyncio.wait_for(stream.ended.wait(), self.b.request_timeout)
        except TimeoutError:
            self._finish(stream, "error", "client_timeout")
            try:
                await ws.send(json.dumps({"type": "cancel", "id": stream.id}))
            except ConnectionClosed:
                pass
            return
        if stream.outcome == "completed" and stream.text and self.rng.random() < self.b.accept:
            self.body += stream.text.get(0, "")

    def _typed_over(self, stream: Stream) -> None:
        """The writer types on while the suggestion is still coming. If no
        token came yet, the wait so far is the best bound on its TTFT:
        dropping it would leave out exactly the slowest requests."""
        stream.typed_over = True
        if stream.measured and not stream.sampled and not stream.ended.is_set():
            self.rec.typed_over_early += 1
            self._sample_ttft(stream, self.loop.time())

    def _sample_ttft(self, stream: Stream, now: float) -> None:
        stream.sampled = True
        self.rec.ttft.append(now - stream.sent)
        if stream.first:
            self.rec.first_ttft.append(now - stream.sent)

    async def _generate(self, ws: ClientConnection, rid: str, measured: bool, first: bool = False) -> Stream:
        msg = {"type": "generate", "id": rid, "model": self.target.model, "prompt": self._prompt(),
               "params": {"max_tokens": self.b.max_tokens, "n": self.b.n, "temperature": self.b.temperature}}
        self._warm_prompt = msg["prompt"]  # a generate prefills its prompt: the editor counts it as warm
        if self.document is not None:
            msg["document"] = self.document["id"]
        now = self.loop.time()
        stream = Stream(rid, self.b.n, now, measured and now >= self.rec.since, set(range(self.b.n)), first=first)
        self.streams[rid] = stream
        if now >= self.rec.since:
            self.rec.sent += 1
        await ws.send(json.dumps(msg))
        return stream

    async def _replace(self, ws: ClientConnection, old: Stream) -> Stream:
        """Typing on with the same id: the backend cancels the old request and
        ends it silently. Tokens it had already sent may still be on the wire
        and would be taken for the new request's, so the new one's latency is
        not sampled."""
        if old.ended.is_set():
            return old
        self._finish(old, "cancelled")
        return await self._generate(ws, old.id, measured=False)

    def _new_id(self) -> str:
        self.count += 1
        return f"w{self.index}-{self.count}"

    # --- the socket's messages ----------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._on_message(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self._drop_all("connection_closed")

    def _on_message(self, m: dict) -> None:
        stream = self.streams.get(m.get("id"))
        kind = m.get("type")
        if m.get("id") in self.prewarm_ids and kind in ("done", "error"):
            if self.prewarm_ids.pop(m["id"]):
                outcome = m.get("finish_reason") if kind == "done" else f"error:{m.get('code')}"
                self.rec.prewarms[str(outcome)] += 1
            return
        if stream is None:
            if kind == "error" and m.get("id") is None:
                self.rec.errors[f"unattributed:{m.get('code')}"] += 1
            return  # a late answer to a cancel, or output of a replaced request
        now = self.loop.time()
        if kind == "token":
            index = m.get("index", 0)
            if stream.measured:
                if not stream.sampled:
                    self._sample_ttft(stream, now)
                elif index in stream.last:
                    self.rec.itl.append(now - stream.last[index])
                self.rec.tokens += 1
            stream.last[index] = now
            stream.text[index] = stream.text.get(index, "") + m.get("text", "")
        elif kind == "done":
            stream.open.discard(m.get("index"))
            if m.get("finish_reason") == "cancelled":
                stream.cancelled_by_writer = True
            if not stream.open:
                self._finish(stream, "cancelled" if stream.cancelled_by_writer else "completed")
        elif kind == "error":
            self._finish(stream, "error", m.get("code") or "unknown")

    def _finish(self, stream: Stream, outcome: str, code: str | None = None) -> None:
        if stream.ended.is_set():
            return
        stream.outcome = outcome
        stream.ended.set()
        if self.streams.get(stream.id) is stream:
            del self.streams[stream.id]
        if stream.sent < self.rec.since:
            return
        if outcome == "error":
            self.rec.error(code or "unknown")
        else:
            self.rec.outcomes[outcome] += 1

    def _drop_all(self, code: str) -> None:
        for stream in list(self.streams.values()):
            self._finish(stream, "error", code)

    # --- drafts (backend only) ------------------------------------------------

    async def _open_draft(self) -> None:
        """A new draft of a drawn length; through the backend it is created as
        the editor creates one (POST with its text) and then opened (GET)."""
        self.body = prose.join("", self.words.words(self.drafts.draw(self.rng)))
        self._opening = True
        if self.target.http_url is not None:
            await self._create_document()
        self._saved_at = self.loop.time()
        if self.loop.time() >= self.rec.since:
            self.rec.opened += 1

    async def _create_document(self) -> None:
        if self.http is None:
            self.http = httpx.AsyncClient(base_url=self.target.http_url, timeout=30, trust_env=False)
        if "X-CSRFToken" not in self.http.headers:
            csrf = (await self.http.get("/api/session/")).raise_for_status().json()["csrf"]
            self.http.headers["X-CSRFToken"] = csrf
        self.drafts_opened += 1
        r = await self.http.post("/api/documents/", json={"title": f"load test {self.index}.{self.drafts_opened}",
                                                          "body": self.body})
        r.raise_for_status()
        r = await self.http.get(f"/api/documents/{r.json()['id']}/")
        r.raise_for_status()
        self.document = r.json()

    async def _autosave(self) -> None:
        if self.document is None or not self.b.autosave_every:
            return
        if self.loop.time() - self._saved_at < self.b.autosave_every:
            return
        self._saved_at = self.loop.time()
        try:
            r = await self.http.patch(f"/api/documents/{self.document['id']}/",
                                      json={"version": self.document["version"], "body": self.body})
        except httpx.HTTPError as e:
            self.rec.autosaves[type(e).__name__] += 1
            return
        self.rec.autosaves[str(r.status_code)] += 1
        if r.status_code == 200:
            self.document = r.json()
        elif r.status_code == 409:
            self.document = r.json().get("current", self.document)
