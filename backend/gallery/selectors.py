"""Reading the gallery: public pieces with their votes, newest or top."""
from __future__ import annotations

from datetime import datetime

from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from rest_framework import status

from backend.documents.models import Document, Visibility
from backend.errors import ServiceError

from .models import Vote
from .ranking import decayed_score

PAGE_SIZE = 20
SORTS = ("new", "top")


class NoSuchPage(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"

    def __init__(self, page):
        super().__init__(f"There is no page {page} of the gallery.")


def public_pieces() -> QuerySet[Document]:
    """What the gallery may show: public, published, not hidden by staff."""
    return Document.objects.filter(visibility=Visibility.PUBLIC, share_id__isnull=False, hidden=False)


def with_votes(pieces: QuerySet[Document], user=None) -> QuerySet[Document]:
    """Adds `vote_total`, `votes_up`, `votes_down` (summed from the votes
    table) and, for a signed-in reader, `my_vote` (1, -1 or None)."""
    # Only counted votes score (see Vote.counted); the reader's own shows either way.
    counted = Q(votes__counted=True)
    pieces = pieces.select_related("owner").annotate(
        vote_total=Coalesce(Sum("votes__value", filter=counted), 0),
        votes_up=Count("votes", filter=counted & Q(votes__value=1)),
        votes_down=Count("votes", filter=counted & Q(votes__value=-1)),
    )
    if user is not None and user.is_authenticated:
        mine = Vote.objects.filter(user=user, document=OuterRef("pk")).values("value")[:1]
        pieces = pieces.annotate(my_vote=Subquery(mine))
    return pieces


def gallery_page(*, sort: str = "new", genre: str = "", page: int = 1, user=None, now: datetime | None = None) -> Page:
    """One page of public pieces; raises NoSuchPage past the end."""
    pieces = with_votes(public_pieces(), user)
    if genre:
        pieces = pieces.filter(published_genre=genre)
    # nulls_last: PostgreSQL would put a piece without a listing time first.
    newest = F("listed_at").desc(nulls_last=True)
    if sort == "top":
        rank = decayed_score(F("vote_total"), F("listed_at"), now or timezone.now())
        pieces = pieces.annotate(rank=rank).order_by(F("rank").desc(nulls_last=True), newest, "-pk")
    else:
        pieces = pieces.order_by(newest, "-pk")
    try:
        return Paginator(pieces, PAGE_SIZE).page(page)
    except InvalidPage:
        raise NoSuchPage(page) from None


def gallery_genres() -> list[str]:
    """Genres that have at least one piece in the gallery, for the filter."""
    genres = public_pieces().exclude(published_genre="").values_list("published_genre", flat=True)
    return list(genres.order_by("published_genre").distinct())


def piece(share_id: str, user=None) -> Document | None:
    """A published piece by its link (public or unlisted), with its votes."""
    if not share_id:
        return None
    return with_votes(
        Document.objects.filter(share_id=share_id, hidden=False).exclude(visibility=Visibility.PRIVATE), user
    ).first()


def vote_counts(document: Document, user) -> dict:
    """The piece's score after a vote, read back from the table."""
    counts = Vote.objects.filter(document=document, counted=True).aggregate(
        total=Coalesce(Sum("value"), 0),
        up=Count("pk", filter=Q(value=1)),
        down=Count("pk", filter=Q(value=-1)),
    )
    mine = Vote.objects.filter(document=document, user=user).values_list("value", flat=True).first()
    return {"score": counts["total"], "votes": {"up": counts["up"], "down": counts["down"]}, "my_vote": mine}
