"""Who a compose socket writes as, for the model tier.

The key goes upstream on every request: the engine scopes its prefix cache by
it (a writer never hits, times or counts another writer's text) and shares
its batch fairly between keys; the backend budgets by it too. It is an HMAC,
so the model tier never sees user ids or session keys, and a client cannot
choose or guess another writer's key.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings

KEY_CHARS = 32


@dataclass(frozen=True)
class Writer:
    key: str
    signed_in: bool

    @property
    def kind(self) -> str:
        """The writer class budgets and logs go by."""
        return "user" if self.signed_in else "anon"


def writer_for_scope(scope) -> Writer:
    """The socket's writer; touches the database (the session), so call it
    through database_sync_to_async.

    A signed-in user is one writer on every device. An anonymous writer is
    their session; a socket without a valid session (no cookie, or one the
    database does not know) is a writer of its own.
    """
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return Writer(_key(f"user:{user.pk}"), signed_in=True)
    session = scope.get("session")
    session_key = None
    if session is not None:
        # Loading it drops a made-up or expired key (session_key becomes None),
        # so a client cannot mint writers by inventing cookies.
        session.get("_")
        session_key = session.session_key
    if session_key is None:
        return Writer(_key(f"socket:{secrets.token_hex(16)}"), signed_in=False)
    return Writer(_key(f"anon:{session_key}"), signed_in=False)


def _key(identity: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), identity.encode(), hashlib.sha256).hexdigest()
    return digest[:KEY_CHARS]
