"""What readers do with published pieces: vote and flag.

A piece is a published `documents.Document`; its score is always summed from
these rows when read, never kept as a counter that could drift.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from backend.documents.models import Document, Visibility

FLAG_REASON_MAX_CHARS = 500


class Vote(models.Model):
    """One signed-in reader's +1 or -1 on one piece; voting again changes it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField()
    # Stored but not scored: from an account younger than the minimum age, or
    # past the per-address cap on this piece (settings.VOTE_*; services.vote).
    counted = models.BooleanField(default=True)
    # Keyed hash of the voter's client address, for the per-address cap; the
    # address itself is not kept.
    address = models.CharField(max_length=32, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "document"], name="vote_once_per_piece"),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="vote_is_up_or_down"),
        ]

    def __str__(self):
        return f"{self.user} {self.value:+d} on {self.document_id}"


class Flag(models.Model):
    """A reader's report that a piece breaks the rules; staff decide in the admin."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="flags")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="flags")
    reason = models.CharField(max_length=FLAG_REASON_MAX_CHARS, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "document"], name="flag_once_per_piece")]

    def __str__(self):
        return f"{self.user} flagged {self.document_id}"


class PublishedPieceManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().exclude(visibility=Visibility.PRIVATE)


class Piece(Document):
    """Published documents, as the moderators' admin page lists them."""

    objects = PublishedPieceManager()

    class Meta:
        proxy = True
        verbose_name = "published piece"
