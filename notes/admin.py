"""Operators' view of notes: per tenant, by owner or sender, read or unread.

Read-only, as every state admin: a note changes only through commands, REST and
the one action here, which calls the service so the DELETED event still leaves.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notes import services
from notes.models import Note
from project.admin import ReadOnlyAdmin, set_filter, tenant_column
from project.tenancy.models import Tenant


class TenantFilter(admin.SimpleListFilter):
    """Notes belong to a tenant id (region and versions do not partition them)."""

    title = "tenant"
    parameter_name = "tenant_uuid"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        seen: dict[str, str] = {}
        for tenant in Tenant.objects.order_by("uuid", "region", "major_version"):
            seen.setdefault(str(tenant.uuid), str(tenant))
        return sorted(seen.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Note]) -> QuerySet[Note]:
        if self.value():
            return queryset.filter(tenant_uuid=self.value())
        return queryset


# The client discards a note when its owner reads it: discarded = read.
ReadFilter = set_filter(
    "deleted_at", "read", [("no", "unread (live)"), ("yes", "read (discarded)")]
)


@admin.register(Note)
class NoteAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        tenant_column,
        "character_id",
        "sender_id",
        "short_message",
        "flag",
        "timestamp",
        "is_read",
        "deleted_at",
    )
    list_filter = (TenantFilter, ReadFilter)
    # Exact matches on the character ids ("=" keeps the indexes usable).
    search_fields = ("=character_id", "=sender_id")
    search_help_text = "owner or sender character id"
    list_select_related = ("tenant",)
    ordering = ("-id",)
    # A tenant may hold a million notes: no second COUNT(*) for the unfiltered total.
    show_full_result_count = False
    readonly_fields = (
        "id",
        "tenant",
        "tenant_uuid",
        "character_id",
        "sender_id",
        "message",
        "flag",
        "timestamp",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    actions = ["delete_notes"]

    @admin.display(description="message")
    def short_message(self, obj: Note) -> str:
        return obj.message if len(obj.message) <= 60 else obj.message[:57] + "…"

    @admin.display(description="read", boolean=True)
    def is_read(self, obj: Note) -> bool:
        return obj.is_read

    @admin.action(description="Delete selected notes (emits DELETED to their owners)")
    def delete_notes(self, request: HttpRequest, queryset: QuerySet[Note]) -> None:
        deleted = 0
        for note in queryset.filter(deleted_at__isnull=True).select_related("tenant"):
            try:
                services.note_delete(tenant=note.tenant, note_id=note.pk)
            except services.NoteNotFound:
                continue  # deleted meanwhile
            deleted += 1
        self.message_user(request, f"Deleted {deleted} notes.", messages.SUCCESS)
