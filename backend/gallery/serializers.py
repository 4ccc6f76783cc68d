from rest_framework import serializers

from backend.documents.models import PUBLISHED_VISIBILITIES
from backend.documents.serializers import SpanOut, StrictText

from .models import FLAG_REASON_MAX_CHARS
from .selectors import SORTS

EXCERPT_CHARS = 280


class VotesOut(serializers.Serializer):
    up = serializers.IntegerField()
    down = serializers.IntegerField()


class _PieceFields(serializers.Serializer):
    share_id = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="The piece's page, `/s/<share_id>`.")
    title = serializers.CharField(source="published_title")
    genre = serializers.CharField(source="published_genre", help_text="Genre of the model that wrote most of it; '' if none.")
    author = serializers.SerializerMethodField(help_text="The writer's username; null for an anonymous writer.")
    visibility = serializers.ChoiceField(choices=PUBLISHED_VISIBILITIES)
    published_at = serializers.DateTimeField(help_text="Last (re)published.")
    listed_at = serializers.DateTimeField(allow_null=True, help_text="First time in the gallery; ages it in `top`.")
    score = serializers.IntegerField(source="vote_total", help_text="Up votes minus down votes.")
    votes = serializers.SerializerMethodField()
    my_vote = serializers.SerializerMethodField(help_text="The signed-in reader's vote: 1, -1 or null.")

    def get_url(self, piece) -> str:
        return f"/s/{piece.share_id}"

    def get_author(self, piece) -> str | None:
        return piece.owner.get_username() if piece.owner_id else None

    def get_votes(self, piece) -> VotesOut:
        return {"up": piece.votes_up, "down": piece.votes_down}

    def get_my_vote(self, piece) -> int | None:
        return getattr(piece, "my_vote", None)


class PieceCardOut(_PieceFields):
    excerpt = serializers.SerializerMethodField()

    def get_excerpt(self, piece) -> str:
        text = " ".join(piece.published_body.split())
        return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rsplit(" ", 1)[0] + "…"


class SharedOut(_PieceFields):
    """The read-only piece behind a share link."""

    body = serializers.CharField(source="published_body")
    spans = SpanOut(source="published_spans", many=True, help_text="Which characters a model wrote.")


class GalleryQuery(serializers.Serializer):
    sort = serializers.ChoiceField(choices=SORTS, default="new")
    genre = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    page = serializers.IntegerField(required=False, default=1, min_value=1)


class GalleryOut(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    genres = serializers.ListField(child=serializers.CharField(), help_text="Genres with pieces in the gallery.")
    results = PieceCardOut(many=True)


class VoteIn(serializers.Serializer):
    value = serializers.ChoiceField(choices=[1, -1, 0], help_text="1 up, -1 down, 0 takes the vote back.")


class VoteOut(serializers.Serializer):
    score = serializers.IntegerField()
    votes = VotesOut()
    my_vote = serializers.IntegerField(allow_null=True)


class FlagIn(serializers.Serializer):
    reason = StrictText(required=False, allow_blank=True, default="", max_length=FLAG_REASON_MAX_CHARS)


class FlagOut(serializers.Serializer):
    flagged = serializers.BooleanField()
