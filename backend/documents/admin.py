from django.contrib import admin

from .models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "version", "updated_at", "published_at"]
    list_filter = ["published_at"]
    search_fields = ["title", "owner__username"]
    readonly_fields = ["id", "writer", "version", "created_at", "updated_at", "share_id", "published_at"]
