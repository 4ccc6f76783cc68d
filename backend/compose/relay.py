"""The compose relay: one editor socket's requests, sent upstream and streamed back.

Upstream connections are opened lazily, one per (route, document), and all
belong to this relay: `close()` (on disconnect) cancels every request still
in flight and closes them, so no generation outlives the writer's socket.
Client ids are mapped to fresh upstream ids, so a request that replaces
another under the same id can never receive the old one's late tokens.

Every request goes upstream with the socket's writer key, and holds a lease
on its writer's budget (budget.py) from before it is sent until it ends.
Prewarms (prefill a draft into the writer's cache) are fire-and-forget: one
per (route, document), a newer one replacing the older, their answers
swallowed, outside the budget (the engine drops them first under load).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contract.registry import Registry

from ..metrics import COMPOSE_IN_FLIGHT, COMPOSE_REQUESTS, UPSTREAM_ERRORS
from .budget import WriterBudget
from .limits import SocketLimits
from .messages import Generate, Prewarm, ProtocolError, upstream_generate, upstream_prewarm
from .upstream import NoUpstream, UpstreamSocket, document_key, upstream_urls

log = logging.getLogger(__name__)


@dataclass(eq=False)
class InFlight:
    """A generate request sent upstream and not yet finished."""

    client_id: str
    upstream_id: str
    model: str
    socket: UpstreamSocket
    open: set[int] = field(default_factory=set)  # alternatives still streaming
    lease: str | None = None  # on the writer's budget


# Prewarms in flight per socket, over all (route, document) pairs: a socket
# that names many documents cannot open an upstream connection for each.
MAX_PREWARMS = 2


class Relay:
    def __init__(
        self,
        send: Callable[[dict], Awaitable[None]],
        registry: Registry,
        limits: SocketLimits,
        budget: WriterBudget,
        upstream_base: str = "",
    ):
        self._send = send
        self._registry = registry
        self._limits = limits
        self._budget = budget
        self._writer = budget.writer.key
        self._writer_kind = budget.writer.kind
        self._base = upstream_base
        self._requests: dict[str, InFlight] = {}  # by client id
        self._by_upstream: dict[str, InFlight] = {}  # by upstream id
        self._prewarms: dict[tuple[str, str | None], tuple[str, UpstreamSocket]] = {}  # key -> (upstream id, socket)
        self._prewarm_keys: dict[str, tuple[str, str | None]] = {}  # upstream id -> key
        self._sockets: dict[tuple[str, str | None], UpstreamSocket] = {}
        self._ids = itertools.count(1)
        # Upstream ids are `u<n>.<tag>` (`p` for prewarms): unique to this socket
        # across the fleet, so the microservice's log line for a request is
        # found by grepping the id the relay logged (docs/operations.md).
        self._tag = secrets.token_hex(4)
        self._closed = False

    @property
    def in_flight(self) -> int:
        return len(self._requests)

    def _name(self, route: str) -> str:
        model = self._registry.models.get(route)
        return model.name if model else route

    async def generate(self, req: Generate) -> None:
        """Send a request upstream. One that reuses the id of a request in
        flight replaces it: the old one is cancelled upstream and ends
        without a `done` (the writer typed on; its text is stale)."""
        replaced = self._requests.get(req.id)
        if replaced is None and len(self._requests) >= self._limits.max_concurrent:
            raise ProtocolError(
                "too_many_requests",
                f"At most {self._limits.max_concurrent} requests may be in flight on one connection; "
                "cancel one or wait for it to finish.",
                req.id,
            )
        if replaced is not None:
            await self._forget(replaced)
            await replaced.socket.cancel(replaced.upstream_id)
        key = (req.model, document_key(req.document))
        urls = self._urls(req.model, key[1], req.id)
        upstream_id = f"u{next(self._ids)}.{self._tag}"
        n = req.params.n
        lease = await self._budget.acquire(req.id, upstream_id, n, n * req.params.max_tokens)
        if self._closed or req.id in self._requests:
            # The socket closed, or a newer request took this id, while Redis answered.
            await self._budget.release(lease)
            return
        # From the lookup on there is no await until the request is registered,
        # so a socket lost meanwhile cannot swallow it unreported.
        socket = await self._socket_for(key, urls)
        request = InFlight(req.id, upstream_id, req.model, socket, set(range(n)), lease)
        self._requests[req.id] = request
        self._by_upstream[request.upstream_id] = request
        COMPOSE_REQUESTS.labels(req.model).inc()
        COMPOSE_IN_FLIGHT.inc()
        # The line that ties the editor's id to the one the microservice logs (docs/operations.md).
        log.info("generate %s sent upstream as %s", req.id, upstream_id, extra={
            "client_id": req.id, "upstream_id": upstream_id, "model": req.model,
            "writer_class": self._writer_kind, "document": key[1]})
        socket.track(request.upstream_id)
        await socket.send(request.upstream_id, upstream_generate(req, request.upstream_id, self._writer, key[1]))

    async def prewarm(self, req: Prewarm) -> None:
        """Ask the document's instance to prefill the prompt into this
        writer's cache. Nothing is answered to the editor."""
        key = (req.model, document_key(req.document))
        urls = self._urls(req.model, key[1], None)  # the consumer names the client's id, if any
        await self._drop_prewarm(key)  # a newer text makes the older prefill pointless
        while len(self._prewarms) >= MAX_PREWARMS:
            await self._drop_prewarm(next(iter(self._prewarms)))
        socket = await self._socket_for(key, urls)
        upstream_id = f"p{next(self._ids)}.{self._tag}"
        self._prewarms[key] = (upstream_id, socket)
        self._prewarm_keys[upstream_id] = key
        socket.track(upstream_id)
        await socket.send(upstream_id, upstream_prewarm(req, upstream_id, self._writer, key[1]))

    def _urls(self, route: str, doc_key: str | None, request_id: str | None) -> list[str]:
        try:
            return upstream_urls(self._registry, route, doc_key, self._base)
        except NoUpstream:
            raise ProtocolError(
                "model_unavailable", f"No server is configured to run {self._name(route)}.", request_id
            ) from None

    async def _socket_for(self, key, urls: list[str]) -> UpstreamSocket:
        socket = self._sockets.get(key)
        if socket is None or socket.ended:
            return await self._open(key, urls)
        self._sockets[key] = self._sockets.pop(key)  # most recently used last
        return socket

    async def _drop_prewarm(self, key) -> None:
        entry = self._prewarms.pop(key, None)
        if entry is not None:
            upstream_id, socket = entry
            self._prewarm_keys.pop(upstream_id, None)
            await socket.cancel(upstream_id)

    def _prewarm_ended(self, upstream_id: str) -> bool:
        """Forget a prewarm that finished upstream; False if it is not one."""
        key = self._prewarm_keys.pop(upstream_id, None)
        if key is None:
            return False
        entry = self._prewarms.get(key)
        if entry is not None and entry[0] == upstream_id:
            del self._prewarms[key]
            entry[1].untrack(upstream_id)
        return True

    async def cancel(self, client_id: str) -> None:
        """Stop a request upstream at once and end each of its alternatives
        with `done` / `cancelled` for the writer."""
        request = self._requests.get(client_id)
        if request is None:
            raise ProtocolError(
                "unknown_request", f"No request {client_id!r} is in flight (it may have just finished).", client_id
            )
        await self._forget(request)
        await request.socket.cancel(request.upstream_id)
        for index in sorted(request.open):
            await self._send({"type": "done", "id": client_id, "index": index, "finish_reason": "cancelled"})

    async def close(self) -> None:
        self._closed = True
        sockets = list(self._sockets.values())
        self._sockets.clear()
        self._requests.clear()
        COMPOSE_IN_FLIGHT.dec(len(self._by_upstream))
        self._by_upstream.clear()
        self._prewarms.clear()
        self._prewarm_keys.clear()
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        await self._budget.release_all()

    # --- upstream sockets ---------------------------------------------------

    async def _open(self, key, urls: list[str]) -> UpstreamSocket:
        # A socket may write in many documents; keep the idle connections bounded.
        limit = self._limits.max_concurrent + 2
        evicted = []
        for old_key, old in list(self._sockets.items()):
            if len(self._sockets) < limit:
                break
            if old.idle or old.ended:
                evicted.append(self._sockets.pop(old_key))
        await asyncio.gather(*(old.close() for old in evicted), return_exceptions=True)
        socket = UpstreamSocket(
            key,
            urls,
            connect_timeout=self._limits.connect_timeout,
            idle_timeout=self._limits.idle_timeout,
            on_message=self._from_upstream,
            on_lost=self._lost,
            on_timeout=self._timed_out,
        )
        self._sockets[key] = socket
        return socket

    async def _forget(self, request: InFlight) -> None:
        if self._requests.get(request.client_id) is request:
            del self._requests[request.client_id]
        if self._by_upstream.pop(request.upstream_id, None) is not None:
            COMPOSE_IN_FLIGHT.dec()
        request.socket.untrack(request.upstream_id)
        lease, request.lease = request.lease, None
        await self._budget.release(lease)

    async def _from_upstream(self, socket: UpstreamSocket, message: dict) -> None:
        request = self._by_upstream.get(message.get("id"))
        if request is None:
            if message.get("type") in ("done", "error") and self._prewarm_ended(message.get("id")):
                if message["type"] == "error":
                    log.info("prewarm refused upstream: %s %.200s", message.get("code"), message.get("message"))
                return  # the editor never hears about prewarms
            # Late output of a cancelled or replaced request, or an answer to
            # a cancel that crossed the request's own end: nothing to relay.
            if message.get("id") is None:
                log.error("upstream %s refused a message: %.300r", socket.url, message)
            return
        kind = message.get("type")
        if kind == "done":
            request.open.discard(message.get("index"))
            if not request.open:
                await self._forget(request)
        elif kind == "error":
            await self._forget(request)
            UPSTREAM_ERRORS.labels(request.model, str(message.get("code"))[:40]).inc()
        elif kind == "token":
            await self._budget.renew()
        else:
            log.warning("upstream %s sent an unknown message type %.40r", socket.url, kind)
            return
        message["id"] = request.client_id
        await self._send(message)

    async def _lost(self, socket: UpstreamSocket, reason: str, was_open: bool) -> None:
        if self._closed:
            return
        if self._sockets.get(socket.key) is socket:
            del self._sockets[socket.key]
        for upstream_id, prewarm_socket in list(self._prewarms.values()):
            if prewarm_socket is socket:
                self._prewarm_ended(upstream_id)
        affected = [r for r in self._requests.values() if r.socket is socket]
        if affected:
            log.warning("upstream %s lost with %d requests in flight: %s", socket.url or socket.urls, len(affected), reason)
        for request in affected:
            await self._forget(request)
            UPSTREAM_ERRORS.labels(request.model, "model_unavailable").inc()
            name = self._name(request.model)
            text = (
                f"{name} stopped answering in the middle of a suggestion; try again."
                if was_open
                else f"{name} is not reachable right now; try again in a moment."
            )
            await self._send({"type": "error", "id": request.client_id, "code": "model_unavailable", "message": text})

    async def _timed_out(self, socket: UpstreamSocket, upstream_ids: list[str]) -> None:
        for upstream_id in upstream_ids:
            if self._prewarm_ended(upstream_id):
                await socket.cancel(upstream_id)  # a prefill this late helps no one
                continue
            request = self._by_upstream.get(upstream_id)
            if request is None:
                continue
            await self._forget(request)
            UPSTREAM_ERRORS.labels(request.model, "timeout").inc()
            await socket.cancel(upstream_id)
            await self._send(
                {
                    "type": "error",
                    "id": request.client_id,
                    "code": "timeout",
                    "message": f"{self._name(request.model)} produced nothing for {self._limits.idle_timeout:g} s; "
                    "the request was cancelled. Try again.",
                }
            )
