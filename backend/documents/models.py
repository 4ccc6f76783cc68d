import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

TITLE_MAX_CHARS = 200


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private draft"
    UNLISTED = "unlisted", "Unlisted (link only)"
    PUBLIC = "public", "Public (in the gallery)"


# What a published piece can be (the API's choice when publishing).
PUBLISHED_VISIBILITIES = [Visibility.UNLISTED, Visibility.PUBLIC]


class Document(models.Model):
    """A draft, owned by a user or by an anonymous writer (see owners.py).

    `version` counts saves; an autosave names the version it started from and
    loses (409) if someone saved in between. Publishing copies the draft into
    the `published_*` fields, so the shared page shows what the writer chose
    to publish, not every keystroke after it.

    `spans` say which characters of `body` a model wrote and the writer
    accepted: `[{"start", "end", "model"}]`, offsets in Unicode code points.
    A published piece is unlisted (link only) or public (also in the gallery);
    `listed_at` is when it first went public and ages it in the gallery's
    ranking, so re-publishing cannot push a piece back to the top.
    `hidden` is set by staff (Django admin) for flagged pieces: hidden pieces
    leave the gallery and their link stops working, whatever the owner does.
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
    spans = models.JSONField(default=list, blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE)
    published_spans = models.JSONField(default=list, blank=True)
    published_genre = models.CharField(max_length=64, blank=True, default="")
    listed_at = models.DateTimeField(null=True, blank=True, help_text="first time the piece went public")
    hidden = models.BooleanField(default=False, help_text="hidden by staff: out of the gallery, link dead")

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"], name="document_owner_recent"),
            models.Index(fields=["writer", "-updated_at"], name="document_writer_recent"),
            models.Index(fields=["visibility", "hidden", "-listed_at"], name="document_gallery_new"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(owner__isnull=False) & Q(writer="")) | (Q(owner__isnull=True) & ~Q(writer="")),
                name="document_has_one_owner",
            ),
            models.CheckConstraint(
                condition=(Q(share_id__isnull=True) & Q(visibility="private"))
                | (Q(share_id__isnull=False) & Q(visibility__in=["unlisted", "public"])),
                name="document_share_matches_visibility",
            ),
        ]

    def __str__(self):
        return self.title or f"Untitled {self.id}"

    @property
    def published(self) -> bool:
        return self.share_id is not None
