from django.contrib import admin

from .models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "version", "updated_at", "visibility", "published_at", "hidden"]
    list_filter = ["visibility", "hidden", "published_at"]
    search_fields = ["title", "owner__username"]
    readonly_fields = [
        "id", "writer", "version", "created_at", "updated_at", "share_id", "visibility", "published_at",
        "listed_at", "published_genre",
    ]
