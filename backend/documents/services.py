"""Changing drafts. Every function takes the owner, so one writer can never
touch another's draft; a document that is not the owner's does not exist."""
from __future__ import annotations

import secrets

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rest_framework import status

from backend.errors import Missing, ServiceError
from backend.metrics import AUTOSAVE_CONFLICTS

from . import live
from . import spans as span_rules
from .models import Document, Visibility
from .owners import Owner
from .selectors import document_of, documents_of
from .serializers import DocumentOut


class DocumentNotFound(Missing):
    pass


class SignInRequired(ServiceError):
    """Only writers with an account may put pieces in the public gallery."""

    status_code = status.HTTP_403_FORBIDDEN
    code = "sign_in_required"


class VersionConflict(ServiceError):
    """The autosave started from an old version; `current` is what is saved
    now, and the answer carries it so the client can merge without a read."""

    status_code = status.HTTP_409_CONFLICT
    code = "version_conflict"

    def __init__(self, current: Document, sent: int):
        super().__init__(
            f"This draft was saved elsewhere (now version {current.version}, you sent {sent}); "
            "nothing was overwritten. Merge with `current` and save again.",
            current=DocumentOut(current).data,
        )
        self.current = current


def create_document(owner: Owner, *, title: str = "", body: str = "", spans: list | None = None) -> Document:
    return Document.objects.create(
        owner_id=owner.user_id, writer=owner.writer or "", title=title, body=body, spans=spans or []
    )


def autosave(
    owner: Owner,
    document_id,
    *,
    version: int,
    title: str | None = None,
    body: str | None = None,
    spans: list | None = None,
    origin: str | None = None,
) -> Document:
    """Save if the draft is still at `version`, else raise VersionConflict.

    The version check is part of the UPDATE itself, so of two writers who
    started from the same version exactly one wins, whatever the timing.
    A new body without spans clears them: offsets into the old text would
    mark the wrong words.
    """
    changes = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
    if body is not None:
        changes["spans"] = spans or []
    with transaction.atomic():
        saved = documents_of(owner).filter(pk=document_id, version=version).update(
            **changes, version=F("version") + 1, updated_at=timezone.now()
        )
        # Read inside the transaction: the row is still locked by our UPDATE,
        # so this is exactly the state we wrote.
        document = document_of(owner, document_id)
    if document is None:
        raise DocumentNotFound(document_id)
    if not saved:
        AUTOSAVE_CONFLICTS.inc()
        raise VersionConflict(document, sent=version)
    live.broadcast_updated(document, origin)
    return document


def delete_document(owner: Owner, document_id) -> None:
    deleted, _ = documents_of(owner).filter(pk=document_id).delete()
    if not deleted:
        raise DocumentNotFound(document_id)


_PUBLISHED_FIELDS = [
    "share_id", "visibility", "published_title", "published_body", "published_spans", "published_genre",
    "published_at", "listed_at",
]


def genre_of(spans: list[dict], genres: dict[str, str]) -> str:
    """The genre of the model that wrote most of a piece ("" if none did, or
    that model has left the registry)."""
    model = span_rules.main_model(spans)
    return genres.get(model, "") if model else ""


def publish(owner: Owner, document_id, *, visibility: str | None = None, genres: dict[str, str] | None = None) -> Document:
    """Copy the draft to its shared page, unlisted or public. The share id
    stays the same when a published draft is published again, so links keep
    working; `visibility` left out keeps what the piece had (new: unlisted).
    Changed text clears the piece's votes.
    `genres` maps model routes to genres (from the registry)."""
    if visibility == Visibility.PUBLIC and (owner is None or owner.user_id is None):
        raise SignInRequired("Sign in to publish to the public gallery; unlisted links work without an account.")
    with transaction.atomic():
        document = documents_of(owner).select_for_update().filter(pk=document_id).first()
        if document is None:
            raise DocumentNotFound(document_id)
        now = timezone.now()
        if document.share_id is None:
            # 128 bits from the OS CSPRNG: share links cannot be guessed or enumerated.
            document.share_id = secrets.token_urlsafe(16)
        document.visibility = visibility or (
            document.visibility if document.visibility != Visibility.PRIVATE else Visibility.UNLISTED
        )
        if document.visibility == Visibility.PUBLIC and document.listed_at is None:
            document.listed_at = now
        if document.published_at is not None and (document.published_title, document.published_body) != (
            document.title, document.body
        ):
            # Votes were cast on the text readers saw; new text starts from
            # none, on the same link (see SECURITY.md, "Republishing").
            document.votes.all().delete()
        document.published_title = document.title
        document.published_body = document.body
        document.published_spans = document.spans
        document.published_genre = genre_of(document.spans, genres or {})
        document.published_at = now
        document.save(update_fields=_PUBLISHED_FIELDS)
    return document


def unpublish(owner: Owner, document_id) -> Document:
    """Take the shared page down; its link stops working at once, and a later
    publish gets a new link."""
    with transaction.atomic():
        document = documents_of(owner).select_for_update().filter(pk=document_id).first()
        if document is None:
            raise DocumentNotFound(document_id)
        document.share_id = None
        document.visibility = Visibility.PRIVATE
        document.published_title = ""
        document.published_body = ""
        document.published_spans = []
        document.published_genre = ""
        document.published_at = None
        # listed_at stays: a piece taken down and put back keeps its age in the ranking.
        document.save(update_fields=_PUBLISHED_FIELDS)
    return document


def move_writer_drafts(writer: str | None, user_id: int) -> int:
    """Give an anonymous writer's drafts to an account (on sign-in or sign-up):
    one UPDATE, so nothing is copied and nothing can be half moved."""
    if not writer:
        return 0
    return Document.objects.filter(owner__isnull=True, writer=writer).update(owner_id=user_id, writer="")
