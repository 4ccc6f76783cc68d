"""Who owns a draft: a signed-in user, or an anonymous writer's browser session.

An anonymous writer is a random token stored *inside* the session rather than
the session key itself: Django rotates the key on sign-in (`cycle_key`) but
keeps the data, so the drafts can still be found and moved to the account.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

WRITER_SESSION_KEY = "writeup_writer"


@dataclass(frozen=True)
class Owner:
    user_id: int | None = None
    writer: str | None = None  # anonymous: the token kept in the session

    def __post_init__(self):
        if (self.user_id is None) == (self.writer is None):
            raise ValueError("an owner is either a user or an anonymous writer")


def owner_for_request(request, *, create: bool) -> Owner | None:
    """The requester as an owner; with `create`, start an anonymous writer
    (and so a session cookie) if there is none yet."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Owner(user_id=user.pk)
    writer = request.session.get(WRITER_SESSION_KEY)
    if writer is None and create:
        writer = secrets.token_urlsafe(24)
        request.session[WRITER_SESSION_KEY] = writer
    return Owner(writer=writer) if writer else None


def owner_for_scope(scope) -> Owner | None:
    """The same for a WebSocket scope; touches the database, so call it
    through database_sync_to_async."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return Owner(user_id=user.pk)
    session = scope.get("session")
    writer = session.get(WRITER_SESSION_KEY) if session is not None else None
    return Owner(writer=writer) if writer else None
