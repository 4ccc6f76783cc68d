"""One simulated writer: an editor tab's compose socket, typing, pausing,
reading suggestions and typing over them."""
from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .report import Recorder

# Public-domain openings (Austen, Dickens, Melville, Brontë): the documents the
# writers grow, so prompts read like prose and every writer's draft differs.
CORPUS = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want "
    "of a wife. However little known the feelings or views of such a man may be on his first entering a "
    "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is considered "
    "the rightful property of some one or other of their daughters. "
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was "
    "the season of Darkness, it was the spring of hope, it was the winter of despair. "
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and "
    "nothing particular to interest me on shore, I thought I would sail about a little and see the watery part "
    "of the world. It is a way I have of driving off the spleen and regulating the circulation. "
    "There was no possibility of taking a walk that day. We had been wandering, indeed, in the leafless "
    "shrubbery an hour in the morning; but since dinner the cold winter wind had brought with it clouds so "
    "sombre, and a rain so penetrating, that further out-door exercise was now out of the question. "
).split()


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
    prompt_chars: int = 40000  # tail of the draft sent as the prompt (the editor sends up to the model's max_prompt_chars)
    request_timeout: float = 60.0
    autosave_every: float = 10.0  # seconds; 0 = never


@dataclass(frozen=True)
class Target:
    ws_url: str
    model: str
    origin: str | None = None  # backend sockets check it
    http_url: str | None = None  # backend: REST for drafts and autosave


@dataclass(eq=False)
class Stream:
    id: str
    n: int
    sent: float
    measured: bool
    open: set[int]
    last: dict[int, float] = field(default_factory=dict)
    text: dict[int, str] = field(default_factory=dict)
    cancelled_by_writer: bool = False
    outcome: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Writer:
    def __init__(self, index: int, target: Target, behaviour: Behaviour, rec: Recorder, rng: random.Random):
        self.index, self.target, self.b, self.rec, self.rng = index, target, behaviour, rec, rng
        self.loop = asyncio.get_running_loop()
        self.streams: dict[str, Stream] = {}
        self.count = 0
        start = rng.randrange(len(CORPUS))
        self._words = CORPUS[start:] + CORPUS[:start]
        self._next_word = rng.randrange(40, 120)
        self.body = " ".join(self._words[: self._next_word])
        self.http: httpx.AsyncClient | None = None
        self.document: dict | None = None
        self._saved_at = 0.0

    # --- the writer's day ---------------------------------------------------

    async def run(self, stop_at: float) -> None:
        try:
            if self.target.http_url:
                await self._open_draft()
            while self.loop.time() < stop_at:
                try:
                    await self._session(stop_at)
                except ConnectionClosed:
                    pass  # its streams already counted as errors; reconnect like the editor does
                except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
                    self.rec.connect_failures += 1
                    if self.loop.time() >= self.rec.since:
                        self.rec.error("connect_failed")
                    self.rec.last_failure = f"{type(e).__name__}: {e}"
                    await asyncio.sleep(1.0)
        finally:
            if self.http is not None:
                await self.http.aclose()

    async def _session(self, stop_at: float) -> None:
        headers = {}
        if self.http is not None:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        async with connect(self.target.ws_url, origin=self.target.origin, additional_headers=headers,
                           open_timeout=10, close_timeout=2, max_size=2**22, proxy=None) as ws:
            reader = asyncio.create_task(self._read(ws))
            try:
                while self.loop.time() < stop_at and not reader.done():
                    await self._type()
                    if self.loop.time() >= stop_at:
                        break
                    await asyncio.sleep(self.b.debounce)
                    await self._suggest(ws)
                    await self._autosave()
                    await asyncio.sleep(self.rng.uniform(*self.b.read_time))
            finally:
                reader.cancel()
                self._drop_all("connection_closed")

    async def _type(self, words: int | None = None) -> None:
        words = words or self.rng.randint(*self.b.burst_words)
        typed = []
        for _ in range(words):
            typed.append(self._words[self._next_word % len(self._words)])
            self._next_word += 1
        await asyncio.sleep(words * 60.0 / self.b.words_per_minute)
        self.body += " " + " ".join(typed)

    async def _suggest(self, ws: ClientConnection) -> None:
        stream = await self._generate(ws, self._new_id(), measured=True)
        if self.rng.random() < self.b.type_over:
            try:
                await asyncio.wait_for(stream.ended.wait(), self.rng.uniform(0, 3 * self.b.debounce + 1.0))
            except TimeoutError:
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

    async def _generate(self, ws: ClientConnection, rid: str, measured: bool) -> Stream:
        msg = {"type": "generate", "id": rid, "model": self.target.model, "prompt": self.body[-self.b.prompt_chars:],
               "params": {"max_tokens": self.b.max_tokens, "n": self.b.n, "temperature": self.b.temperature}}
        if self.document is not None:
            msg["document"] = self.document["id"]
        now = self.loop.time()
        stream = Stream(rid, self.b.n, now, measured and now >= self.rec.since, set(range(self.b.n)))
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
        if stream is None:
            if kind == "error" and m.get("id") is None:
                self.rec.errors[f"unattributed:{m.get('code')}"] += 1
            return  # a late answer to a cancel, or output of a replaced request
        now = self.loop.time()
        if kind == "token":
            index = m.get("index", 0)
            if stream.measured:
                if not stream.text:
                    self.rec.ttft.append(now - stream.sent)
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
        self.http = httpx.AsyncClient(base_url=self.target.http_url, timeout=30, trust_env=False)
        csrf = (await self.http.get("/api/session/")).json()["csrf"]
        self.http.headers["X-CSRFToken"] = csrf
        r = await self.http.post("/api/documents/", json={"title": f"load test {self.index}", "body": self.body})
        r.raise_for_status()
        self.document = r.json()
        self._saved_at = self.loop.time()

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
