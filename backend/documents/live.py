"""Live document sync over the channel layer (Redis pub/sub).

Every tab that watches a document joins the group `doc-<uuid>`; an autosave
publishes the saved state to that group. Sync is best effort: a save never
fails because Redis is down, the other tabs just miss that notice (their next
save gets a 409 with the current text, so nothing is lost).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from .models import Document

log = logging.getLogger(__name__)

# Redis answers in well under a millisecond; past this it is down or stuck.
LAYER_TIMEOUT = 2.0


class LiveUnavailable(RuntimeError):
    """The channel layer (Redis) did not answer."""


def group_for(document_id) -> str:
    return f"doc-{document_id}"


def updated_message(document: Document, origin: str | None) -> dict:
    return {
        "type": "document_updated",
        "document": str(document.id),
        "version": document.version,
        "title": document.title,
        "body": document.body,
        "spans": document.spans,
        "origin": origin,
    }


async def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    await asyncio.wait_for(layer.group_send(group, message), LAYER_TIMEOUT)


def broadcast_updated(document: Document, origin: str | None) -> None:
    """Tell every watching tab about a save. Never raises."""
    # The layer dispatches on `type`; the consumer renames it back for the client.
    message = {**updated_message(document, origin), "type": "document.updated"}
    try:
        async_to_sync(_group_send)(group_for(document.id), message)
    except Exception as e:  # noqa: BLE001 - sync is best effort, the save already succeeded
        log.warning("document %s saved but not broadcast: %r", document.id, e)


class DocumentWatch:
    """One compose socket's document subscriptions.

    The socket subscribes to the channel layer only on its first `watch`, so
    a socket that only composes never depends on Redis. One reader task per
    socket hands each group message to `deliver`; `close()` ends it.
    """

    def __init__(self, deliver: Callable[[dict], Awaitable[None]]):
        self._deliver = deliver
        self._layer = None
        self._channel: str | None = None
        self._reader: asyncio.Task | None = None
        self.groups: set[str] = set()

    def __contains__(self, document_id) -> bool:
        return group_for(document_id) in self.groups

    async def add(self, document_id) -> None:
        group = group_for(document_id)
        try:
            if self._channel is None:
                layer = get_channel_layer()
                if layer is None:
                    raise LiveUnavailable("no channel layer configured")
                self._channel = await asyncio.wait_for(layer.new_channel(), LAYER_TIMEOUT)
                self._layer = layer
                self._reader = asyncio.create_task(self._read(), name=f"watch {self._channel}")
            await asyncio.wait_for(self._layer.group_add(group, self._channel), LAYER_TIMEOUT)
        except (OSError, asyncio.TimeoutError, RedisError) as e:
            raise LiveUnavailable(str(e) or type(e).__name__) from e
        self.groups.add(group)

    async def discard(self, document_id) -> None:
        group = group_for(document_id)
        if group in self.groups:
            self.groups.discard(group)
            try:
                await asyncio.wait_for(self._layer.group_discard(group, self._channel), LAYER_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - leaving a group of a dead Redis is moot
                log.info("group_discard %s failed: %r", group, e)

    async def close(self) -> None:
        for group in list(self.groups):
            await self.discard(group.removeprefix("doc-"))
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._reader = None

    async def _read(self) -> None:
        while True:
            message = await self._layer.receive(self._channel)
            try:
                await self._deliver(message)
            except Exception:  # noqa: BLE001 - one bad message must not end the sync
                log.exception("delivering %s failed", message.get("type"))
