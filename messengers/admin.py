"""Operators' view of messengers and the character registry; closing a messenger.

Read-only: seats change only through commands, events and the close action,
which calls ``services.messenger_close`` so that members leave with the LEFT
events the game's channel servers wait for.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from messengers import selectors, services
from messengers.models import Character, Member, Messenger
from project.admin import ReadOnlyAdmin, tenant_column, with_full_tenant


class MemberInline(admin.TabularInline):
    model = Member
    fields = ("slot", "character_id", "character_name", "joined_at")
    readonly_fields = fields
    ordering = ("slot",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="name")
    def character_name(self, obj: Member) -> str:
        character = selectors.character(tenant=obj.tenant, character_id=obj.character_id)
        return character.name if character is not None else "?"


@admin.register(Messenger)
class MessengerAdmin(ReadOnlyAdmin):
    list_display = ("messenger_id", tenant_column, "seats", "created_at")
    list_filter = ("tenant",)
    search_fields = ("=messenger_id", "=members__character_id")
    list_select_related = ("tenant",)
    ordering = ("tenant", "messenger_id")
    readonly_fields = ("messenger_id", "tenant", "created_at")
    inlines = [MemberInline]
    actions = ["close"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Messenger]:
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description="seats (0, 1, 2)")
    def seats(self, obj: Messenger) -> str:
        by_slot = {m.slot: str(m.character_id) for m in obj.members.all()}
        return " | ".join(by_slot.get(slot, "—") for slot in range(3))

    @admin.action(description="Close: every member leaves (LEFT events), messenger removed")
    def close(self, request: HttpRequest, queryset: QuerySet[Messenger]) -> None:
        closed = 0
        for messenger in queryset.select_related("tenant"):
            if services.messenger_close(
                tenant=messenger.tenant, messenger_id=messenger.messenger_id
            ):
                closed += 1
        self.message_user(request, f"Closed {closed} messenger(s).", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Character)
class CharacterAdmin(ReadOnlyAdmin):
    """The registry: what the service knows of each character, and where it sits."""

    list_display = (
        "character_id",
        "name",
        tenant_column,
        "world_id",
        "channel_id",
        "online",
        "messenger",
        "updated_at",
    )
    list_filter = ("tenant", "online", "world_id")
    search_fields = ("=character_id", "name")
    list_select_related = ("tenant",)
    ordering = ("tenant", "character_id")
    readonly_fields = with_full_tenant(list_display)

    @admin.display(description="messenger (seat)")
    def messenger(self, obj: Character) -> str:
        seat = selectors.seat_of(tenant=obj.tenant, character_id=obj.character_id)
        if seat is None:
            return "—"
        return f"{seat.messenger.messenger_id} (seat {seat.slot})"
