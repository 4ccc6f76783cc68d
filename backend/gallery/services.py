"""Votes, flags and moderation of published pieces."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from backend.documents.models import Document, Visibility

from backend.errors import Missing

from .models import Flag, Vote
from .selectors import piece


class PieceNotFound(Missing):
    pass


class NotInGallery(Exception):
    """Votes are for pieces in the public gallery, not link-only ones."""


class OwnPiece(Exception):
    """Writers do not vote for themselves."""


def _published(share_id: str) -> Document:
    document = piece(share_id)
    if document is None:
        raise PieceNotFound(share_id)
    return document


def vote(user, share_id: str, value: int) -> Document:
    """Set the reader's vote on a public piece: +1, -1, or 0 to take it back.
    Voting the same way twice changes nothing; the unique (user, piece) row
    makes that hold under concurrent requests too."""
    document = _published(share_id)
    if document.visibility != Visibility.PUBLIC:
        raise NotInGallery(share_id)
    if document.owner_id == user.pk:
        raise OwnPiece(share_id)
    if value == 0:
        Vote.objects.filter(user=user, document=document).delete()
    else:
        Vote.objects.update_or_create(
            user=user, document=document, defaults={"value": value, "updated_at": timezone.now()}
        )
    return document


def flag(user, share_id: str, reason: str = "") -> Document:
    """Report a piece to the moderators; flagging again updates the reason."""
    document = _published(share_id)
    Flag.objects.update_or_create(user=user, document=document, defaults={"reason": reason})
    return document


def set_hidden(pieces: QuerySet[Document], hidden: bool) -> int:
    """Staff: take pieces out of the gallery and kill their links, or restore them."""
    return pieces.update(hidden=hidden)
