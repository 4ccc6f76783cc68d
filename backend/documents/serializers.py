from django.conf import settings
from rest_framework import serializers

from .models import TITLE_MAX_CHARS, Document


class StrictText(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of quietly
    turning them into text: a client sending `"body": 5` has a bug."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DocumentOut(serializers.ModelSerializer):
    published = serializers.BooleanField(read_only=True)

    class Meta:
        model = Document
        fields = ["id", "title", "body", "version", "created_at", "updated_at", "share_id", "published"]
        read_only_fields = fields


class DocumentCreateIn(serializers.Serializer):
    title = StrictText(
        required=False, allow_blank=True, default="", max_length=TITLE_MAX_CHARS, trim_whitespace=False
    )
    body = StrictText(
        required=False, allow_blank=True, default="", max_length=settings.DOCUMENT_MAX_BODY_CHARS, trim_whitespace=False
    )


class DocumentPatchIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version this edit started from.")
    title = StrictText(
        required=False, allow_blank=True, max_length=TITLE_MAX_CHARS, trim_whitespace=False
    )
    body = StrictText(
        required=False, allow_blank=True, max_length=settings.DOCUMENT_MAX_BODY_CHARS, trim_whitespace=False
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
        return attrs


class ConflictOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    current = DocumentOut()


class PublishOut(serializers.Serializer):
    share_id = serializers.CharField()
    share_url = serializers.URLField()


class SharedOut(serializers.Serializer):
    title = serializers.CharField(source="published_title")
    body = serializers.CharField(source="published_body")
    published_at = serializers.DateTimeField()
