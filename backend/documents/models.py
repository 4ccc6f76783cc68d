import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

TITLE_MAX_CHARS = 200


class Document(models.Model):
    """A draft, owned by a user or by an anonymous writer (see accounts.owners).

    `version` counts saves; an autosave names the version it started from and
    loses (409) if someone saved in between. Publishing copies the draft into
    the `published_*` fields, so the shared page shows what the writer chose
    to publish, not every keystroke after it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    writer = models.CharField(max_length=64, blank=True, default="", help_text="anonymous owner's session token")
    title = models.CharField(max_length=TITLE_MAX_CHARS, blank=True, default="")
    body = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    share_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    published_title = models.CharField(max_length=TITLE_MAX_CHARS, blank=True, default="")
    published_body = models.TextField(blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="document_owner_recent"),
            models.Index(fields=["writer", "-updated_at"], name="document_writer_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(owner__isnull=False) & Q(writer="")) | (Q(owner__isnull=True) & ~Q(writer="")),
                name="document_has_one_owner",
            )
        ]

    def __str__(self):
        return self.title or f"Untitled {self.id}"

    @property
    def published(self) -> bool:
        return self.share_id is not None
