"""The compose WebSocket, /ws/compose/: thin. It decodes and checks each
message, then hands it to the relay (generation) or the document watch (sync).
See docs/protocol.md and docs/contracts.md for the messages."""
from __future__ import annotations

import json
import logging

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from backend.accounts.live import SESSION_ENDED, SessionWatch, owner_now
from backend.catalog.selectors import registry
from backend.documents import selectors as documents
from backend.documents.live import DocumentWatch, LiveUnavailable

from .budget import WriterBudget
from .limits import SocketLimits, TokenBucket
from .messages import Cancel, Generate, Prewarm, ProtocolError, Unwatch, Watch, decode, usable_id, validate
from .relay import Relay
from .writer import writer_for_scope

log = logging.getLogger(__name__)


@database_sync_to_async
def _owns(scope, document_id: str) -> tuple[bool, bool]:
    """(session still valid, owns the document), from the session as stored now."""
    valid, owner = owner_now(scope)
    return valid, valid and documents.owns_document(owner, document_id)


@database_sync_to_async
def _session_valid(scope) -> bool:
    return owner_now(scope)[0]


_writer = database_sync_to_async(writer_for_scope)


class ComposeConsumer(AsyncWebsocketConsumer):
    # No channel layer by default: the socket subscribes to Redis only when it
    # watches a document (DocumentWatch), so composing keeps working without Redis.
    channel_layer_alias = None

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when the server cancels the consumer without a disconnect.
            await self._close_work()

    async def dispatch(self, message):
        # Channels closes stale DB connections before every handler, a hop to
        # the shared sync thread per message; our handlers reach the database
        # only through database_sync_to_async, which does that itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.limits = SocketLimits.from_settings()
        self.bucket = TokenBucket(self.limits.messages_per_second, self.limits.burst)
        self.registry = registry()
        budget = WriterBudget(await _writer(self.scope))
        self.relay = Relay(self.send_json, self.registry, self.limits, budget, settings.WRITEUP_UPSTREAM)
        self.watch = DocumentWatch(self._from_group)
        self.session_watch = SessionWatch(self._session_changed)
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            # Sign-out, password change or deletion elsewhere closes this socket.
            await self.session_watch.start(user.pk)

    async def disconnect(self, code):
        await self._close_work()

    async def _close_work(self):
        relay, watch = getattr(self, "relay", None), getattr(self, "watch", None)
        session_watch, self.session_watch = getattr(self, "session_watch", None), None
        self.relay = self.watch = None
        if session_watch is not None:
            await session_watch.close()
        if relay is not None:
            await relay.close()
        if watch is not None:
            await watch.close()

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def receive(self, text_data=None, bytes_data=None):
        if self.relay is None:
            return
        msg = None
        frame = text_data if text_data is not None else bytes_data
        try:
            if not self.bucket.take():
                # Name the refused request when that is cheap; a flood of big
                # frames is not worth parsing.
                if len(frame or "") <= 4096:
                    try:
                        msg = decode(frame, self.limits.max_message_bytes)
                    except ProtocolError:
                        pass
                raise ProtocolError(
                    "rate_limited",
                    f"Too many messages: at most {self.limits.messages_per_second:g} a second. "
                    "This one was dropped; slow down and retry.",
                )
            msg = decode(frame, self.limits.max_message_bytes)
            await self._handle(validate(msg, self.registry))
        except ProtocolError as e:
            if e.id is None and isinstance(msg, dict):
                e.id = usable_id(msg.get("id"))
            await self.send_json(e.as_message())
        except Exception:
            log.exception("compose message failed")
            rid = usable_id(msg.get("id")) if isinstance(msg, dict) else None
            await self.send_json(
                {"type": "error", "id": rid, "code": "internal_error", "message": "Something broke on the server; it has been logged."}
            )

    async def _handle(self, msg) -> None:
        if isinstance(msg, Generate):
            await self.relay.generate(msg)
        elif isinstance(msg, Prewarm):
            await self.relay.prewarm(msg)
        elif isinstance(msg, Cancel):
            await self.relay.cancel(msg.id)
        elif isinstance(msg, Watch):
            await self._watch(msg.document)
        elif isinstance(msg, Unwatch):
            await self.watch.discard(msg.document)

    async def _watch(self, document_id: str) -> None:
        if document_id not in self.watch and len(self.watch.groups) >= self.limits.max_watched:
            raise ProtocolError(
                "too_many_requests", f"A connection may watch at most {self.limits.max_watched} documents.", document=document_id
            )
        valid, owns = await _owns(self.scope, document_id)
        if not valid:
            await self._end_session()
            return
        if not owns:
            raise ProtocolError("forbidden", "That document is not yours (or does not exist).", document=document_id)
        try:
            await self.watch.add(document_id)
        except LiveUnavailable:
            raise ProtocolError(
                "sync_unavailable",
                "Live sync between tabs is unavailable right now; saving still works.",
                document=document_id,
            ) from None
        await self.send_json({"type": "watching", "document": document_id})

    async def _session_changed(self) -> None:
        if not await _session_valid(self.scope):
            await self._end_session()

    async def _end_session(self) -> None:
        """The socket's session was signed out, its password changed or its
        account deleted: stop its generations and close it."""
        await self.close(code=SESSION_ENDED)
        await self._close_work()

    async def _from_group(self, message: dict) -> None:
        if message.get("type") == "document.updated":
            await self.send_json({**message, "type": "document_updated"})
