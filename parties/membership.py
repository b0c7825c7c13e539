"""Who is in which party, and the character cache entries that say so.

The membership primitives the services build on: reading a cached character
(created from a lookup's answer on a miss), locking a party, and moving a
character in or out of one by compare-and-set. Lock order is always the party
row first, then characters, so two writers cannot deadlock.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from django.db import transaction

from parties.lookups import LookedUp
from parties.models import Character, Party
from project.tenancy.models import Tenant


def record(tenant: Tenant, looked_up: LookedUp) -> None:
    """Cache the looked-up characters the cache lacks (``looked_up.fetched``).

    Before the service's own block, so a refusal keeps them, as upstream's lookup
    does; in one statement in id order, so two services populating each other's
    characters cannot deadlock. A character cached meanwhile keeps that entry.
    """
    new = [
        Character(
            tenant=tenant,
            character_id=character_id,
            name=facts.name,
            level=facts.level,
            job_id=facts.job_id,
            gm=facts.gm,
            world_id=facts.world_id,
            channel_id=facts.channel_id,
            map_id=facts.map_id,
            instance=uuid.UUID(facts.instance),
        )
        for character_id, facts in sorted(looked_up.fetched.items())
        if facts is not None
    ]
    if new:
        Character.objects.bulk_create(new, ignore_conflicts=True)


@contextlib.contextmanager
def acting(
    tenant: Tenant, looked_up: LookedUp, character_id: int, *, lock: bool = False
) -> Iterator[Character | None]:
    """A service's own transaction, and the cached character it acts on (``None``:
    its lookup failed). The looked-up characters are cached first, outside it, so a
    refusal, which rolls the transaction back, keeps them, as upstream's lookup does."""
    record(tenant, looked_up)
    with transaction.atomic():
        yield character(tenant, character_id, lock=lock)


def character(tenant: Tenant, character_id: int, *, lock: bool = False) -> Character | None:
    """The cached character; ``None`` when it is neither cached nor was fetched (the
    lookup failed)."""
    return _cached(tenant, character_id, lock=lock)


def _cached(tenant: Tenant, character_id: int, *, lock: bool) -> Character | None:
    """The cache entry, with its party read in the same statement; when locking, the
    party is read after the lock instead: on PostgreSQL a row re-read after waiting
    for its lock comes with the joined rows of the statement's older snapshot, which
    can miss the party the character joined meanwhile."""
    queryset = Character.objects.filter(tenant=tenant, character_id=character_id)
    if lock:
        return queryset.select_for_update().first()
    return queryset.select_related("party").first()


def party_number(character: Character) -> int:
    return character.party.party_id if character.party_id is not None else 0


def current_party_number(character: Character) -> int:
    """The party id the character has now (after a lost race), 0 for none."""
    fresh = Character.objects.select_related("party").filter(pk=character.pk).first()
    return party_number(fresh) if fresh is not None else 0


def lock_party(tenant: Tenant, party_id: int) -> Party | None:
    return Party.objects.select_for_update().filter(tenant=tenant, party_id=party_id).first()


def claim(character: Character, party: Party) -> bool:
    """Put a party-less character into ``party`` (locked by the caller), last in order.

    A compare-and-set: it fails if the character joined another party since it was
    read (on PostgreSQL the UPDATE waits for that writer and re-checks).
    """
    position = party.next_position
    claimed = Character.objects.filter(pk=character.pk, party__isnull=True).update(
        party=party, party_position=position
    )
    if claimed != 1:
        return False
    party.next_position = position + 1
    party.save(update_fields=["next_position"])
    character.party, character.party_position = party, position
    return True


def release(character: Character, party: Party) -> bool:
    """Take the character out of ``party`` (locked by the caller); compare-and-set."""
    released = Character.objects.filter(pk=character.pk, party=party).update(
        party=None, party_position=0
    )
    if released == 1:
        character.party = None
    return released == 1


def dissolve(party: Party) -> None:
    """Every remaining member leaves, then the party row goes (its id is never reused)."""
    Character.objects.filter(party=party).update(party=None, party_position=0)
    party.delete()
