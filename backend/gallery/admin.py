"""Moderation: staff see flagged pieces first and hide them from the gallery
(their share links stop working too) or restore them."""
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from . import services
from .models import Flag, Piece, Vote


class FlagInline(admin.TabularInline):
    model = Flag
    extra = 0
    can_delete = True
    fields = ["user", "reason", "created_at"]
    readonly_fields = fields


class FlaggedFilter(admin.SimpleListFilter):
    title = "flags"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged"), ("no", "Not flagged")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(flag_count__gt=0)
        if self.value() == "no":
            return queryset.filter(flag_count=0)
        return queryset


@admin.action(description="Hide from the gallery (the share link stops working)")
def hide(modeladmin, request, queryset):
    n = services.set_hidden(queryset, True)
    modeladmin.message_user(request, f"{n} piece(s) hidden.", messages.SUCCESS)


@admin.action(description="Show again")
def unhide(modeladmin, request, queryset):
    n = services.set_hidden(queryset, False)
    modeladmin.message_user(request, f"{n} piece(s) shown again.", messages.SUCCESS)


@admin.register(Piece)
class PieceAdmin(admin.ModelAdmin):
    list_display = ["published_title", "owner", "visibility", "published_genre", "listed_at", "flag_count", "score", "hidden"]
    list_filter = [FlaggedFilter, "hidden", "visibility", "published_genre"]
    search_fields = ["published_title", "owner__username", "share_id"]
    actions = [hide, unhide]
    inlines = [FlagInline]
    fields = ["published_title", "published_body", "owner", "share_id", "visibility", "published_genre",
              "published_at", "listed_at", "hidden"]
    readonly_fields = [f for f in fields if f != "hidden"]

    def get_queryset(self, request):
        # Subqueries, not joins: joining flags and votes at once would multiply the counts.
        per_piece = {"document": OuterRef("pk")}
        flags = Flag.objects.filter(**per_piece).values("document").annotate(n=Count("pk")).values("n")
        votes = Vote.objects.filter(**per_piece).values("document").annotate(n=Sum("value")).values("n")
        # Most flagged first: that is the moderators' queue.
        return super().get_queryset(request).annotate(
            flag_count=Coalesce(Subquery(flags, output_field=IntegerField()), 0),
            vote_sum=Coalesce(Subquery(votes, output_field=IntegerField()), 0),
        ).order_by("-flag_count", "-published_at")

    @admin.display(ordering="flag_count", description="flags")
    def flag_count(self, piece):
        return piece.flag_count

    @admin.display(ordering="vote_sum", description="score")
    def score(self, piece):
        return piece.vote_sum

    def has_add_permission(self, request):
        return False  # pieces come from publishing a draft


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ["document", "user", "reason", "created_at"]
    search_fields = ["reason", "user__username", "document__published_title"]
    raw_id_fields = ["document", "user"]


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["document", "user", "value", "updated_at"]
    raw_id_fields = ["document", "user"]
