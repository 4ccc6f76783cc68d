"""Changing drafts. Every function takes the owner, so one writer can never
touch another's draft; a document that is not the owner's does not exist."""
from __future__ import annotations

import secrets

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backend.accounts.owners import Owner

from . import live
from .models import Document
from .selectors import document_of, documents_of


class DocumentNotFound(LookupError):
    pass


class VersionConflict(Exception):
    """The autosave started from an old version; `current` is what is saved now."""

    def __init__(self, current: Document):
        super().__init__(f"document {current.id} is at version {current.version}")
        self.current = current


def create_document(owner: Owner, *, title: str = "", body: str = "") -> Document:
    return Document.objects.create(
        owner_id=owner.user_id, writer=owner.writer or "", title=title, body=body
    )


def autosave(
    owner: Owner,
    document_id,
    *,
    version: int,
    title: str | None = None,
    body: str | None = None,
    origin: str | None = None,
) -> Document:
    """Save if the draft is still at `version`, else raise VersionConflict.

    The version check is part of the UPDATE itself, so of two writers who
    started from the same version exactly one wins, whatever the timing.
    """
    changes = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
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
        raise VersionConflict(document)
    live.broadcast_updated(document, origin)
    return document


def delete_document(owner: Owner, document_id) -> None:
    deleted, _ = documents_of(owner).filter(pk=document_id).delete()
    if not deleted:
        raise DocumentNotFound(document_id)


def publish(owner: Owner, document_id) -> Document:
    """Copy the draft to its shared page. The share id stays the same when a
    published draft is published again, so links keep working."""
    with transaction.atomic():
        document = documents_of(owner).select_for_update().filter(pk=document_id).first()
        if document is None:
            raise DocumentNotFound(document_id)
        if document.share_id is None:
            # 128 bits from the OS CSPRNG: share links cannot be guessed or enumerated.
            document.share_id = secrets.token_urlsafe(16)
        document.published_title = document.title
        document.published_body = document.body
        document.published_at = timezone.now()
        document.save(update_fields=["share_id", "published_title", "published_body", "published_at"])
    return document


def unpublish(owner: Owner, document_id) -> Document:
    """Take the shared page down; its link stops working at once, and a later
    publish gets a new link."""
    with transaction.atomic():
        document = documents_of(owner).select_for_update().filter(pk=document_id).first()
        if document is None:
            raise DocumentNotFound(document_id)
        document.share_id = None
        document.published_title = ""
        document.published_body = ""
        document.published_at = None
        document.save(update_fields=["share_id", "published_title", "published_body", "published_at"])
    return document
