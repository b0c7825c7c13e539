"""Read-only view of pending invites: they change only through commands and expiry."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from invites.models import Invite
from project.admin import ReadOnlyAdmin, tenant_column, with_full_tenant


@admin.register(Invite)
class InviteAdmin(ReadOnlyAdmin):
    """Read-only: deleting here would bypass the REJECTED event other services wait for."""

    list_display = (
        "invite_id",
        tenant_column,
        "invite_type",
        "reference_id",
        "originator_id",
        "target_id",
        "world_id",
        "created_at",
        "age_seconds",
    )
    list_filter = ("tenant", "invite_type")
    # Exact matches on the character ids ("=" keeps the index usable).
    search_fields = ("=target_id", "=originator_id")
    list_select_related = ("tenant",)
    ordering = ("-created_at", "-id")
    readonly_fields = with_full_tenant(list_display)

    @admin.display(description="age (s)")
    def age_seconds(self, obj: Invite) -> int:
        return int((timezone.now() - obj.created_at).total_seconds())
