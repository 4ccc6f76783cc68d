"""Sessions end everywhere: a signed-in compose socket listens on its
user's group (`user.<id>`) and re-checks its session when told to.

Sign-out, a password change or reset, and account deletion send
`session.changed` to the user's group once the change is committed. Every
socket of that user then reloads its own session from the database: if it
no longer signs in the same user (flushed, password hash changed, user
gone), the socket closes, which also stops its generations. Sockets of the
user's other, still valid sessions stay open.

Best effort like document sync: with Redis down the notice is lost, but the
next `watch` still re-checks the session (owner_now).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from backend.documents.owners import WRITER_SESSION_KEY, Owner

log = logging.getLogger(__name__)

LAYER_TIMEOUT = 2.0
# Close code for a socket whose session ended (4000-4999: the application's own).
SESSION_ENDED = 4401


def group_for(user_id) -> str:
    return f"user.{user_id}"


async def _group_send(group: str, message: dict) -> None:
    await asyncio.wait_for(get_channel_layer().group_send(group, message), LAYER_TIMEOUT)


def _notify(user_id) -> None:
    try:
        async_to_sync(_group_send)(group_for(user_id), {"type": "session.changed"})
    except Exception as e:  # noqa: BLE001 - the change itself succeeded
        log.warning("sockets of user %s not told their session changed: %r", user_id, e)


def sessions_changed(user_id) -> None:
    """Tell the user's sockets to re-check their sessions, after the current
    transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _notify(user_id))


def _fresh_session(scope):
    session = scope.get("session")
    key = getattr(session, "session_key", None) if session is not None else None
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)


def owner_now(scope) -> tuple[bool, Owner | None]:
    """(still valid, owner) for a socket, from its session as stored now,
    not as it was at the handshake. Touches the database: call it through
    database_sync_to_async."""
    session = _fresh_session(scope)
    user = get_user(SimpleNamespace(session=session))
    then = scope.get("user")
    if then is not None and then.is_authenticated:
        valid = user.is_authenticated and user.pk == then.pk
        return valid, Owner(user_id=then.pk) if valid else None
    writer = session.get(WRITER_SESSION_KEY)
    return True, Owner(writer=writer) if writer else None


class SessionWatch:
    """One signed-in socket's subscription to its user's group; `changed` is
    awaited on every notice. The reader task ends with close()."""

    def __init__(self, changed: Callable[[], Awaitable[None]]):
        self._changed = changed
        self._layer = None
        self._channel: str | None = None
        self._group: str | None = None
        self._reader: asyncio.Task | None = None

    async def start(self, user_id) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            self._channel = await asyncio.wait_for(layer.new_channel(), LAYER_TIMEOUT)
            await asyncio.wait_for(layer.group_add(group_for(user_id), self._channel), LAYER_TIMEOUT)
        except Exception as e:  # noqa: BLE001 - composing works without Redis
            log.warning("socket not subscribed to session changes of user %s: %r", user_id, e)
            return
        self._layer, self._group = layer, group_for(user_id)
        self._reader = asyncio.create_task(self._read(), name=f"session {self._channel}")

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
        # Closing from inside the reader (a notice ended the session): the
        # cancel lands at its next await; it cannot wait for itself.
        if reader is not None and reader is not asyncio.current_task():
            try:
                await reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._group is not None:
            group, self._group = self._group, None
            try:
                await asyncio.wait_for(self._layer.group_discard(group, self._channel), LAYER_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - leaving a group of a dead Redis is moot
                log.info("group_discard %s failed: %r", group, e)

    async def _read(self) -> None:
        while True:
            message = await self._layer.receive(self._channel)
            if message.get("type") == "session.changed":
                try:
                    await self._changed()
                except Exception:  # noqa: BLE001
                    log.exception("re-checking a socket's session failed")


# --- who tells: every way a user's sessions end, admin and shell included ----


def _password_changing(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    before = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if before is not None and before != instance.password:
        instance._writeup_password_changed = True


def _password_changed(sender, instance, **kwargs):
    if instance.__dict__.pop("_writeup_password_changed", False):
        sessions_changed(instance.pk)


def _user_deleted(sender, instance, **kwargs):
    sessions_changed(instance.pk)


def connect_receivers() -> None:
    """A password change (other sessions' auth hash stops matching) and a
    deletion reach the user's sockets from wherever they happen; sign-out is
    told by accounts.services, after the session is flushed."""
    user_model = settings.AUTH_USER_MODEL
    pre_save.connect(_password_changing, sender=user_model, dispatch_uid="writeup-password-changing")
    post_save.connect(_password_changed, sender=user_model, dispatch_uid="writeup-password-changed")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="writeup-user-deleted")
