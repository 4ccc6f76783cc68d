from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import spans as span_rules
from .models import PUBLISHED_VISIBILITIES, TITLE_MAX_CHARS, Document


class StrictText(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of quietly
    turning them into text: a client sending `"body": 5` has a bug."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SpanOut(serializers.Serializer):
    start = serializers.IntegerField(help_text="First character (Unicode code point offset into body).")
    end = serializers.IntegerField(help_text="One past the last character.")
    model = serializers.CharField(allow_null=True, help_text="Route of the model that wrote it, if known.")


@extend_schema_field(SpanOut(many=True))
class SpansField(serializers.Field):
    """Accepted-suggestion spans: `[{"start", "end", "model"}]`, sorted and
    non-overlapping. Whether they fit the body is checked with the body."""

    default_error_messages = {"invalid": "{message}"}

    def to_internal_value(self, data):
        try:
            return span_rules.parse(data)
        except span_rules.InvalidSpans as e:
            self.fail("invalid", message=str(e))

    def to_representation(self, value):
        return value


class DocumentOut(serializers.ModelSerializer):
    published = serializers.BooleanField(read_only=True)
    spans = SpanOut(many=True, read_only=True)

    class Meta:
        model = Document
        fields = [
            "id", "title", "body", "version", "created_at", "updated_at", "share_id", "published",
            "visibility", "spans", "hidden",
        ]
        read_only_fields = fields


def _check_spans_fit(attrs):
    spans = attrs.get("spans")
    if spans is None:
        return attrs
    if "body" not in attrs:
        raise serializers.ValidationError(
            {"spans": "Send spans together with the body they point into."}
        )
    try:
        span_rules.check_fit(spans, attrs["body"])
    except span_rules.InvalidSpans as e:
        raise serializers.ValidationError({"spans": str(e)}) from None
    return attrs


class DocumentCreateIn(serializers.Serializer):
    title = StrictText(
        required=False, allow_blank=True, default="", max_length=TITLE_MAX_CHARS, trim_whitespace=False
    )
    body = StrictText(
        required=False, allow_blank=True, default="", max_length=settings.DOCUMENT_MAX_BODY_CHARS, trim_whitespace=False
    )
    spans = SpansField(required=False, help_text="Accepted-suggestion spans of `body`.")

    def validate(self, attrs):
        return _check_spans_fit(attrs)


class DocumentPatchIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version this edit started from.")
    title = StrictText(
        required=False, allow_blank=True, max_length=TITLE_MAX_CHARS, trim_whitespace=False
    )
    body = StrictText(
        required=False, allow_blank=True, max_length=settings.DOCUMENT_MAX_BODY_CHARS, trim_whitespace=False
    )
    spans = SpansField(
        required=False,
        help_text="Accepted-suggestion spans of `body` (send with `body`); a body sent without spans clears them.",
    )
    origin = StrictText(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="A tag naming the saving tab; echoed in the document_updated push so a tab can skip its own saves.",
    )

    def validate(self, attrs):
        if "title" not in attrs and "body" not in attrs:
            raise serializers.ValidationError("Send a title or a body to save (with the version it started from).")
        return _check_spans_fit(attrs)


class ConflictOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    current = DocumentOut()


class PublishIn(serializers.Serializer):
    visibility = serializers.ChoiceField(
        choices=PUBLISHED_VISIBILITIES,
        required=False,
        help_text="unlisted: link only; public: also in the gallery (needs an account). "
        "Left out: unchanged when already published, else unlisted.",
    )


class PublishOut(serializers.Serializer):
    share_id = serializers.CharField()
    share_url = serializers.URLField()
    visibility = serializers.ChoiceField(choices=PUBLISHED_VISIBILITIES)
