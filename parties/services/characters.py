"""What the character status events do to the cache and the parties."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.db import transaction

from parties import events, lookups, membership, messages, selectors
from parties.lookups import LookedUp
from parties.models import Character
from parties.services.parties import NIL_UUID, _leave
from project.messaging import errors
from project.messaging.errors import DomainError, Transient
from project.tenancy.models import Tenant

logger = logging.getLogger(__name__)


def character_login(
    *,
    tenant: Tenant,
    character_id: int,
    channel_id: int,
    looked_up: LookedUp = lookups.NOTHING,
) -> Character | None:
    """LOGIN: online, on the event's channel; name, level, job and GM refreshed
    from ``looked_up.fresh`` (the character service's answer now) without member
    events.

    The event's map, instance and world are not applied.
    """
    with membership.acting(tenant, looked_up, character_id, lock=True) as character:
        if character is None:
            return None
        fields = ["online", "channel_id"]
        fresh = looked_up.fresh
        if fresh is not None:
            character.name, character.level = fresh.name, fresh.level
            character.job_id, character.gm = fresh.job_id, fresh.gm
            fields += ["name", "level", "job_id", "gm"]
        character.online = True
        character.channel_id = channel_id
        character.save(update_fields=fields)
        events.member_status(tenant, character, messages.MEMBER_LOGIN, {})
    return character


def character_logout(
    *, tenant: Tenant, character_id: int, looked_up: LookedUp = lookups.NOTHING
) -> Character | None:
    """LOGOUT: offline; a leader keeps the leadership, nobody leaves."""
    with membership.acting(tenant, looked_up, character_id, lock=True) as character:
        if character is None:
            return None
        character.online = False
        character.save(update_fields=["online"])
        events.member_status(tenant, character, messages.MEMBER_LOGOUT, {})
    return character


def character_channel_changed(
    *, tenant: Tenant, character_id: int, channel_id: int, looked_up: LookedUp = lookups.NOTHING
) -> Character | None:
    """CHANNEL_CHANGED: the new channel; no event."""
    return _update(tenant, character_id, looked_up, channel_id=channel_id)


def character_map_changed(
    *, tenant: Tenant, character_id: int, target_map_id: int, looked_up: LookedUp = lookups.NOTHING
) -> Character | None:
    """MAP_CHANGED: the target map; instance and channel untouched; no event."""
    return _update(tenant, character_id, looked_up, map_id=target_map_id)


def character_level_changed(
    *, tenant: Tenant, character_id: int, current: int, looked_up: LookedUp = lookups.NOTHING
) -> Character | None:
    """LEVEL_CHANGED: the new level; a member's party hears of it even when
    the level did not change."""
    return _changed(
        tenant,
        character_id,
        looked_up,
        "level",
        current,
        messages.MEMBER_LEVEL_CHANGED,
        messages.level_changed_body,
    )


def character_job_changed(
    *, tenant: Tenant, character_id: int, job_id: int, looked_up: LookedUp = lookups.NOTHING
) -> Character | None:
    """JOB_CHANGED: the new job; emitted even when unchanged."""
    return _changed(
        tenant,
        character_id,
        looked_up,
        "job_id",
        job_id,
        messages.MEMBER_JOB_CHANGED,
        messages.job_changed_body,
    )


def character_gm_changed(
    *,
    tenant: Tenant,
    character_id: int,
    looked_up: LookedUp = lookups.NOTHING,
) -> Character | None:
    """GM_CHANGED: the body is ignored; GM level as the character service says
    now (``looked_up.fresh``; unchanged when it failed). No event."""
    with membership.acting(tenant, looked_up, character_id, lock=True) as character:
        if character is None:
            return None
        if looked_up.fresh is not None:
            character.gm = looked_up.fresh.gm
            character.save(update_fields=["gm"])
    return character


def character_name_changed(
    *, tenant: Tenant, character_id: int, new_name: str, looked_up: LookedUp = lookups.NOTHING
) -> Character | None:
    """NAME_CHANGED: only a real change is stored and told to the party."""
    with membership.acting(tenant, looked_up, character_id, lock=True) as character:
        if character is None or character.name == new_name:
            return character
        old = character.name
        character.name = new_name
        character.save(update_fields=["name"])
        events.member_status(
            tenant,
            character,
            messages.MEMBER_NAME_CHANGED,
            messages.name_changed_body(old, new_name),
        )
    return character


def character_deleted(
    *,
    tenant: Tenant,
    character_id: int,
    transaction_id: uuid.UUID = NIL_UUID,
    looked_up: LookedUp = lookups.NOTHING,
) -> None:
    """DELETED: leave the party as a LEAVE would (a leader disbands), echoing
    the event's transaction id, then forget the character.

    As upstream, a character in no party gets ERROR_UNEXPECTED with party 0.
    If its membership changed while this ran, the event is retried: the
    entry is never removed while it is still a member.
    """
    with transaction.atomic():
        cached = selectors.character_get(tenant=tenant, character_id=character_id)
        party_id = membership.party_number(cached) if cached is not None else 0
        try:
            _leave(
                tenant=tenant,
                character_id=character_id,
                party_id=party_id,
                transaction_id=transaction_id,
                looked_up=looked_up,
            )
        except events.LostRace as raced:
            raise Transient(f"character {character_id} deleted while its party changed") from raced
        except DomainError as refusal:  # not in that party: answered, and deleted all the same
            errors.answer(tenant, refusal)
        deleted, _ = Character.objects.filter(
            tenant=tenant, character_id=character_id, party__isnull=True
        ).delete()
        if not deleted and selectors.cached_character_ids(
            tenant=tenant, character_ids=[character_id]
        ):
            raise Transient(f"character {character_id} joined a party while being deleted")


# --- helpers -------------------------------------------------------------------------


def _update(
    tenant: Tenant, character_id: int, looked_up: LookedUp, **values: int
) -> Character | None:
    """Set cached fields of a character (populating it on a miss); no event."""
    with membership.acting(tenant, looked_up, character_id, lock=True) as character:
        if character is None:
            return None
        for name, value in values.items():
            setattr(character, name, value)
        character.save(update_fields=list(values))
    return character


def _changed(
    tenant: Tenant,
    character_id: int,
    looked_up: LookedUp,
    field: str,
    value: int,
    event_type: str,
    body: Callable[[int, int, str], dict],
) -> Character | None:
    """Store a new level or job and tell the party, changed or not: ``body(old, new, name)``."""
    with membership.acting(tenant, looked_up, character_id, lock=True) as character:
        if character is None:
            return None
        old = getattr(character, field)
        setattr(character, field, value)
        character.save(update_fields=[field])
        events.member_status(tenant, character, event_type, body(old, value, character.name))
    return character
