"""One WebSocket from the backend to a model route upstream, and where it goes.

An `UpstreamSocket` owns one connection and the single task that opens it and
then reads it. Requests sent before the connection is open wait in order in
`pending`. The socket also keeps each in-flight request's deadline: when a
request hears nothing for `idle_timeout`, the reader reports it instead of
waiting forever on a stalled model.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contract.registry import Registry

log = logging.getLogger(__name__)


class NoUpstream(LookupError):
    """Nothing in the registry serves the route and there is no load balancer."""


def document_key(document_id: str | None) -> str | None:
    """What the load balancer hashes to keep a document on one instance; a
    digest, so document ids never leave the backend."""
    return hashlib.sha1(document_id.encode()).hexdigest() if document_id else None


def upstream_urls(registry: Registry, route: str, doc_key: str | None, base: str = "") -> list[str]:
    """WebSocket URLs for a route, to try in order.

    With a load balancer (`base`), its route. Without one, the registry's
    instances of the route; for a document they are ranked by rendezvous
    hashing so the same document keeps landing on the same healthy instance
    and its cached prefix.
    """
    query = f"?doc={doc_key}" if doc_key else ""
    if base:
        parts = urlsplit(base)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        return [f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/{route}/ws{query}"]
    instances = registry.instances_for(route)
    if not instances:
        raise NoUpstream(route)
    if doc_key:
        instances = sorted(instances, key=lambda i: hashlib.sha1(f"{doc_key}/{i.id}".encode()).digest(), reverse=True)
    return [f"ws://{i.host}:{i.port}/{route}/ws{query}" for i in instances]


OnMessage = Callable[["UpstreamSocket", dict], Awaitable[None]]
OnLost = Callable[["UpstreamSocket", str, bool], Awaitable[None]]
OnTimeout = Callable[["UpstreamSocket", list[str]], Awaitable[None]]


class UpstreamSocket:
    def __init__(
        self,
        key,
        urls: list[str],
        *,
        connect_timeout: float,
        idle_timeout: float,
        on_message: OnMessage,
        on_lost: OnLost,
        on_timeout: OnTimeout,
    ):
        self.key = key
        self.urls = urls
        self.url: str | None = None  # the one that answered
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._on_message = on_message
        self._on_lost = on_lost
        self._on_timeout = on_timeout
        self._ws: ClientConnection | None = None  # set once pending requests are flushed
        self._conn: ClientConnection | None = None  # set as soon as the handshake is done
        self._pending: list[tuple[str, str]] = []  # (request id, frame) until the socket is open
        self._deadlines: dict[str, float] = {}  # request id -> loop time it times out
        self._timer: asyncio.Timeout | None = None
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=f"upstream {urls[0]}")

    @property
    def idle(self) -> bool:
        return not self._deadlines

    @property
    def ended(self) -> bool:
        """The connection failed or closed; a new request needs a new socket."""
        return self._task.done()

    def track(self, request_id: str) -> None:
        """Start the silence clock of a request sent here."""
        deadline = self._loop.time() + self.idle_timeout
        self._deadlines[request_id] = deadline
        timer = self._timer
        if timer is not None and (timer.when() is None or deadline < timer.when()):
            timer.reschedule(deadline)

    def untrack(self, request_id: str) -> None:
        self._deadlines.pop(request_id, None)

    async def send(self, request_id: str, message: dict) -> None:
        frame = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if self._ws is None:
            self._pending.append((request_id, frame))
            return
        try:
            await self._ws.send(frame)
        except ConnectionClosed:
            pass  # the reader sees the same close and reports every request on it

    async def cancel(self, request_id: str) -> None:
        """Stop a request upstream; one that never left is simply dropped."""
        self.untrack(request_id)
        before = len(self._pending)
        self._pending = [(rid, f) for rid, f in self._pending if rid != request_id]
        if len(self._pending) == before:
            await self.send(request_id, {"type": "cancel", "id": request_id})

    async def close(self) -> None:
        """Cancel what is in flight, end the reader, close the connection."""
        self._task.cancel()
        ws = self._ws
        if ws is not None and self._deadlines:
            try:
                async with asyncio.timeout(1):
                    for request_id in list(self._deadlines):
                        await ws.send(json.dumps({"type": "cancel", "id": request_id}))
            except (TimeoutError, ConnectionClosed):
                pass  # closing the socket below cancels them upstream anyway
        self._deadlines.clear()
        self._pending.clear()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
            pass
        if self._conn is not None:
            await self._conn.close()  # bounded by close_timeout

    async def _connect(self) -> ClientConnection:
        errors = []
        for url in self.urls:
            try:
                ws = await connect(
                    url,
                    open_timeout=self.connect_timeout,
                    close_timeout=1,
                    compression=None,  # tokens are tiny; deflate only adds latency
                    proxy=None,
                    max_size=2**22,
                )
            except Exception as e:  # noqa: BLE001 - refused, timed out, 503, bad handshake: try the next
                errors.append(f"{url}: {str(e) or type(e).__name__}")
                continue
            self.url = url
            return ws
        raise ConnectionError("; ".join(errors))

    async def _run(self) -> None:
        try:
            ws = await self._connect()
        except ConnectionError as e:
            log.warning("upstream unreachable: %s", e)
            await self._on_lost(self, str(e), False)
            return
        self._conn = ws  # close() closes it even if we are cancelled before publishing it
        try:
            # Flush in order, then publish the socket with no await in between,
            # so no later send can overtake a pending one.
            while self._pending:
                _, frame = self._pending.pop(0)
                await ws.send(frame)
            self._ws = ws
            await self._read(ws)
        except ConnectionClosed as e:
            await self._on_lost(self, _why(e), True)
        except Exception:  # noqa: BLE001 - a bug here must still release the writer's requests
            log.exception("upstream reader failed")
            await ws.close()
            await self._on_lost(self, "the relay failed", True)

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            deadline = min(self._deadlines.values(), default=None)
            try:
                async with asyncio.timeout_at(deadline) as self._timer:
                    raw = await ws.recv()
            except TimeoutError:
                now = self._loop.time()
                expired = [rid for rid, t in self._deadlines.items() if t <= now]
                for rid in expired:
                    del self._deadlines[rid]
                if expired:
                    await self._on_timeout(self, expired)
                continue
            finally:
                self._timer = None
            try:
                message = json.loads(raw)
                rid = message.get("id")
            except (ValueError, AttributeError):
                log.error("upstream %s sent a non-JSON frame: %.200r", self.url, raw)
                continue
            if rid in self._deadlines:
                self._deadlines[rid] = self._loop.time() + self.idle_timeout
            try:
                await self._on_message(self, message)
            except Exception:  # noqa: BLE001 - one bad message must not end the stream
                log.exception("relaying an upstream message failed")


def _why(e: ConnectionClosed) -> str:
    if e.rcvd is None:
        return "the connection dropped"
    return f"closed with code {e.rcvd.code}" + (f" ({e.rcvd.reason})" if e.rcvd.reason else "")
