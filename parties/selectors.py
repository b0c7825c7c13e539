"""Reads of parties and cached characters, for services, prepare steps, the admin and REST.

Every read is scoped by tenant. Member lists are in party order (join order, the
leader first at creation) unless a caller sorts them otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from parties.models import Character, Party
from project.tenancy.models import Tenant


def cached_character_ids(*, tenant: Tenant, character_ids: Iterable[int]) -> set[int]:
    """Which of these characters the cache already holds (a prepare step fetches the rest)."""
    ids = set(character_ids)
    return set(
        Character.objects.filter(tenant=tenant, character_id__in=ids).values_list(
            "character_id", flat=True
        )
    )


def character_get(*, tenant: Tenant, character_id: int) -> Character | None:
    return (
        Character.objects.select_related("party")
        .filter(tenant=tenant, character_id=character_id)
        .first()
    )


def party_get(*, tenant: Tenant, party_id: int) -> Party | None:
    """One party with its members (in party order) prefetched as ``members_in_order``."""
    return parties_with_members(Party.objects.filter(tenant=tenant, party_id=party_id)).first()


def parties_list(*, tenant: Tenant, member_id: int | None = None) -> QuerySet[Party]:
    """The tenant's parties by id, or only the one(s) with ``member_id`` among the members."""
    queryset = Party.objects.filter(tenant=tenant)
    if member_id is not None:
        queryset = queryset.filter(members__character_id=member_id)
    return parties_with_members(queryset.order_by("party_id"))


def parties_with_members(queryset: QuerySet[Party]) -> QuerySet[Party]:
    return queryset.prefetch_related(
        Prefetch(
            "members",
            queryset=Character.objects.order_by("party_position", "id"),
            to_attr="members_in_order",
        )
    )


def members_in_order(*, party: Party) -> list[Character]:
    """A party's members in party order, read now (under the caller's party lock)."""
    return list(Character.objects.filter(party=party).order_by("party_position", "id"))


def member_count(*, party: Party) -> int:
    return Character.objects.filter(party=party).count()


def in_party(*, character: Character, party: Party) -> bool:
    """Whether the character is (still) a member of ``party``: read after the party's
    lock, it sees a member who left meanwhile."""
    return Character.objects.filter(pk=character.pk, party=party).exists()
