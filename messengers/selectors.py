"""Reads of messengers, seats and the character registry: for services, REST and the admin.

Each returns a lazy queryset (or a row) scoped by tenant, so a service can add
``select_for_update()`` and REST can page.
"""

from __future__ import annotations

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from messengers.models import Character, Member, Messenger
from project.tenancy.models import Tenant


def messengers(*, tenant: Tenant, member_id: int | None = None) -> QuerySet[Messenger]:
    """Messengers by id ascending, members prefetched in seating (insertion) order;
    with ``member_id`` only the one that seats that character."""
    queryset = Messenger.objects.filter(tenant=tenant)
    if member_id is not None:
        queryset = queryset.filter(members__character_id=member_id)
    return queryset.order_by("messenger_id").prefetch_related(
        Prefetch("members", queryset=with_registry(Member.objects.order_by("id")))
    )


def messenger(*, tenant: Tenant, messenger_id: int) -> Messenger | None:
    return messengers(tenant=tenant).filter(messenger_id=messenger_id).first()


def members_by_character_id(*, messenger: Messenger) -> QuerySet[Member]:
    """A messenger's members by character id ascending (the REST members routes)."""
    return with_registry(Member.objects.filter(messenger=messenger).order_by("character_id"))


def with_registry(members: QuerySet[Member]) -> QuerySet[Member]:
    """Members annotated with their registry record (``registered_name``, ``_world_id``,
    ``_channel_id``, ``_online``; ``None`` without one), read in the same query: a
    page of messengers renders in two queries, not one per member."""
    record = Character.objects.filter(
        tenant=OuterRef("tenant"), character_id=OuterRef("character_id")
    )
    return members.annotate(
        **{
            f"registered_{name}": Subquery(record.values(name)[:1])
            for name in ("name", "world_id", "channel_id", "online")
        }
    )


def members_in_order(*, messenger: Messenger) -> list[Member]:
    """A messenger's members in seating (insertion) order, read now (under the
    caller's messenger lock)."""
    return list(Member.objects.filter(messenger=messenger).order_by("id"))


def member_count(*, messenger: Messenger) -> int:
    return Member.objects.filter(messenger=messenger).count()


def taken_slots(*, messenger: Messenger) -> set[int]:
    """The seats in use (under the caller's messenger lock)."""
    return set(Member.objects.filter(messenger=messenger).values_list("slot", flat=True))


def seat_of(*, tenant: Tenant, character_id: int) -> Member | None:
    """The character's seat, with its messenger, or ``None``: at most one (a unique key)."""
    return (
        Member.objects.filter(tenant=tenant, character_id=character_id)
        .select_related("messenger")
        .first()
    )


def character(*, tenant: Tenant, character_id: int) -> Character | None:
    return Character.objects.filter(tenant=tenant, character_id=character_id).first()


def characters(*, tenant: Tenant, ids: list[int]) -> dict[int, Character]:
    rows = Character.objects.filter(tenant=tenant, character_id__in=ids)
    return {row.character_id: row for row in rows}


def known_character_ids(*, tenant: Tenant, ids: list[int]) -> set[int]:
    """Which of ``ids`` the registry already has: those need no lookup."""
    return set(
        Character.objects.filter(tenant=tenant, character_id__in=ids).values_list(
            "character_id", flat=True
        )
    )
