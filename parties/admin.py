"""Operators' view of parties and the character cache; disbanding and expelling.

Read-only: membership changes only through commands, events and the two actions
here, which call the same services a command would (``party_disband`` is the
leader leaving, ``party_expel_by_operator`` the leader expelling), so the game's
channel servers get the same DISBAND / EXPEL events.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from parties import selectors, services
from parties.models import Character, Party
from project.admin import ReadOnlyAdmin, tenant_column, with_full_tenant
from project.messaging.errors import DomainError


@admin.register(Party)
class PartyAdmin(ReadOnlyAdmin):
    list_display = ("party_id", tenant_column, "leader", "size", "member_names", "created_at")
    list_filter = ("tenant",)
    # A party by its id, its leader's id, or any member's id or name.
    search_fields = ("=party_id", "=leader_id", "=members__character_id", "members__name")
    list_select_related = ("tenant",)
    ordering = ("tenant", "party_id")
    fields = ("party_id", "tenant", "leader", "created_at", "member_table")
    readonly_fields = fields
    actions = ["disband"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Party]:
        queryset = super().get_queryset(request).annotate(member_count=Count("members"))
        return selectors.parties_with_members(queryset)

    @admin.display(description="leader")
    def leader(self, obj: Party) -> str:
        for member in obj.members_in_order:
            if member.character_id == obj.leader_id:
                return f"{member.name} ({member.character_id})"
        return str(obj.leader_id)

    @admin.display(description="members", ordering="member_count")
    def size(self, obj: Party) -> int:
        return obj.member_count

    @admin.display(description="names")
    def member_names(self, obj: Party) -> str:
        return ", ".join(member.name or str(member.character_id) for member in obj.members_in_order)

    @admin.display(description="members (party order)")
    def member_table(self, obj: Party) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    member.character_id,
                    member.name,
                    member.level,
                    member.job_id,
                    "yes" if member.online else "no",
                    member.channel_id,
                    member.map_id,
                )
                for member in obj.members_in_order
            ),
        )
        return format_html(
            "<table><tr><th>id</th><th>name</th><th>level</th><th>job</th><th>online</th>"
            "<th>channel</th><th>map</th></tr>{}</table>",
            rows,
        )

    @admin.action(description="Disband: as if the leader left (DISBAND to every member)")
    def disband(self, request: HttpRequest, queryset: QuerySet[Party]) -> None:
        done = 0
        for party in queryset.select_related("tenant"):
            try:
                if services.party_disband(tenant=party.tenant, party_id=party.party_id):
                    done += 1
            except DomainError as refused:
                self.message_user(request, f"{party}: {refused.reason}", messages.WARNING)
        self.message_user(request, f"Disbanded {done} party(ies).", messages.SUCCESS)


@admin.register(Character)
class CharacterAdmin(ReadOnlyAdmin):
    """The character cache: what the service knows of each character, and its party."""

    list_display = (
        "character_id",
        "name",
        tenant_column,
        "party_number",
        "level",
        "job_id",
        "gm",
        "online",
        "world_id",
        "channel_id",
        "map_id",
    )
    list_filter = ("tenant", "online", "world_id")
    search_fields = ("=character_id", "name", "=party__party_id")
    list_select_related = ("tenant", "party")
    ordering = ("tenant", "character_id")
    readonly_fields = (*with_full_tenant(list_display), "instance", "party_position")
    fields = readonly_fields
    actions = ["expel"]

    @admin.display(description="party")
    def party_number(self, obj: Character) -> str:
        return str(obj.party.party_id) if obj.party_id else "—"

    @admin.action(description="Expel from the party: as if the leader expelled (EXPEL event)")
    def expel(self, request: HttpRequest, queryset: QuerySet[Character]) -> None:
        done = 0
        for character in queryset.select_related("tenant"):
            try:
                if services.party_expel_by_operator(
                    tenant=character.tenant, character_id=character.character_id
                ):
                    done += 1
            except DomainError as refused:
                self.message_user(request, f"{character}: {refused.reason}", messages.WARNING)
        self.message_user(
            request,
            f"Expelled {done} character(s). A leader with other members cannot be expelled:"
            " disband the party instead.",
            messages.SUCCESS,
        )
