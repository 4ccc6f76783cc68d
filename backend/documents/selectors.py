"""Reading drafts: always through the owner, so nobody sees another's drafts."""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from .models import Document
from .owners import Owner


def documents_of(owner: Owner | None) -> QuerySet[Document]:
    if owner is None:
        return Document.objects.none()
    if owner.user_id is not None:
        return Document.objects.filter(owner_id=owner.user_id)
    return Document.objects.filter(owner__isnull=True, writer=owner.writer)


def document_of(owner: Owner | None, document_id: uuid.UUID | str) -> Document | None:
    try:
        return documents_of(owner).get(pk=document_id)
    except (Document.DoesNotExist, ValueError, ValidationError):
        return None


def owns_document(owner: Owner | None, document_id: uuid.UUID | str) -> bool:
    return documents_of(owner).filter(pk=document_id).exists()


def shared_document(share_id: str) -> Document | None:
    """A published piece anyone with the link may read; hidden ones are gone."""
    return Document.objects.filter(share_id=share_id, hidden=False).first() if share_id else None
