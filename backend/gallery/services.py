"""Votes, flags and moderation of published pieces."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status

from backend.documents.models import Document, Visibility
from backend.errors import Missing, ServiceError

from .models import Flag, Vote
from .selectors import piece


class PieceNotFound(Missing):
    pass


class NotInGallery(ServiceError):
    """Votes are for pieces in the public gallery, not link-only ones."""

    status_code = status.HTTP_409_CONFLICT
    code = "not_in_gallery"
    message = "Only pieces in the public gallery take votes."


class OwnPiece(ServiceError):
    """Writers do not vote for themselves."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "own_piece"
    message = "You cannot vote for your own piece."


def _published(share_id: str) -> Document:
    document = piece(share_id)
    if document is None:
        raise PieceNotFound(share_id)
    return document


def address_key(address: str) -> str:
    """A keyed hash of a client address: enough to count votes per address,
    useless for finding the address again."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"vote-address:{address}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _counts(user, document: Document, address: str) -> bool:
    """Whether a vote cast now scores: the account is old enough, and this
    address has not yet cast VOTE_MAX_PER_ADDRESS counted votes on the piece."""
    min_age = timedelta(hours=settings.VOTE_MIN_ACCOUNT_AGE_HOURS)
    if user.date_joined > timezone.now() - min_age:
        return False
    others = Vote.objects.filter(document=document, address=address, counted=True).exclude(user=user)
    return others.count() < settings.VOTE_MAX_PER_ADDRESS


def vote(user, share_id: str, value: int, *, address: str = "") -> Document:
    """Set the reader's vote on a public piece: +1, -1, or 0 to take it back.
    Voting the same way twice changes nothing; the unique (user, piece) row
    makes that hold under concurrent requests too.

    Every vote is stored; whether it scores is decided as it is cast
    (_counts), from the voter's account age and client address."""
    document = _published(share_id)
    if document.visibility != Visibility.PUBLIC:
        raise NotInGallery()
    if document.owner_id == user.pk:
        raise OwnPiece()
    if value == 0:
        Vote.objects.filter(user=user, document=document).delete()
    else:
        key = address_key(address)
        Vote.objects.update_or_create(
            user=user, document=document,
            defaults={"value": value, "updated_at": timezone.now(), "address": key,
                      "counted": _counts(user, document, key)},
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
