"""The messenger operations: every write to messengers happens here.

Each service takes a tenant and plain values, plus ``looked_up``: what the
character service said about characters the registry did not know yet (fetched
in the handler's ``prepare`` step, outside any transaction; see ``lookups``). It
runs in one ``transaction.atomic()`` and emits its records with ``bus.emit`` in
that transaction, in upstream's order.

Locking, the same order everywhere so that nothing deadlocks: first the acting
character's registry row (the per-character lock: upstream's creation lock,
held by the database, and also what keeps one character in one messenger),
then the messenger row (capacity and seats), then the id counter. Unique keys
(``models``) back both invariants up.

The looked-up characters are recorded first, outside the service's own block (``_acting``), so
a refusal (a ``DomainError`` carrying the ERROR event, ``errors.answered``) rolls
back only the service: the registry record a lookup created stays, as upstream's
lookup side effect does.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils import timezone

from messengers import messages, selectors
from messengers.lookups import LookedUp
from messengers.models import CAPACITY, Character, Member, Messenger
from project.messaging import bus, errors
from project.messaging.errors import DomainError, Record
from project.tenancy import sequences
from project.tenancy.models import Tenant

logger = logging.getLogger(__name__)

SEQUENCE = "messenger"


# --- commands (COMMAND_TOPIC_MESSENGER, invite ACCEPTED) ---------------------------------


@errors.answered
def messenger_create(
    *, tenant: Tenant, transaction_id: uuid.UUID, actor_id: int, looked_up: LookedUp
) -> Messenger | None:
    """CREATE: a new messenger with the actor in seat 0; CREATED only, no JOINED."""
    with _acting(tenant, looked_up, actor_id) as actor:
        if actor is None:
            raise _refused(transaction_id, messages.ERROR_UNEXPECTED, actor_id, 0, 0)
        if selectors.seat_of(tenant=tenant, character_id=actor_id) is not None:
            # messengerId 0, not the actor's messenger.
            raise _refused(
                transaction_id, messages.ERROR_ALREADY_JOINED_1, actor_id, 0, actor.world_id
            )
        messenger = _open(tenant, actor)
        _emit_created(tenant, transaction_id, actor, messenger)
    return messenger


@errors.answered
def messenger_join(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    actor_id: int,
    messenger_id: int,
    looked_up: LookedUp,
) -> Member | None:
    """JOIN, also for an accepted invite: the lowest free seat; JOINED with it."""
    with _acting(tenant, looked_up, actor_id) as actor:
        if actor is None:
            raise _refused(transaction_id, messages.ERROR_UNEXPECTED, actor_id, messenger_id, 0)
        world = actor.world_id
        seat = selectors.seat_of(tenant=tenant, character_id=actor_id)
        if seat is not None:
            # The current messenger's id, even when it is the requested one.
            current = seat.messenger.messenger_id
            raise _refused(
                transaction_id, messages.ERROR_ALREADY_JOINED_2, actor_id, current, world
            )
        messenger = _locked_messenger(tenant, messenger_id)
        if messenger is None:
            raise _refused(transaction_id, messages.ERROR_UNEXPECTED, actor_id, messenger_id, world)
        taken = selectors.taken_slots(messenger=messenger)
        if len(taken) >= CAPACITY:
            raise _refused(transaction_id, messages.ERROR_FULL, actor_id, messenger_id, world)
        member = _seat(tenant, messenger, actor_id, min(set(range(CAPACITY)) - taken))
        _emit_status(
            tenant,
            transaction_id,
            messages.STATUS_JOINED,
            actor,
            messenger_id,
            messages.slot_body(member.slot),
        )
    return member


@errors.answered
def messenger_leave(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    actor_id: int,
    messenger_id: int,
    looked_up: LookedUp,
) -> Member | None:
    """LEAVE: free the seat (no one moves), disband when empty; LEFT with the seat.

    Leaving a messenger one is not in, or an unknown one, is ``ERROR_UNEXPECTED``.
    """
    with _acting(tenant, looked_up, actor_id) as actor:
        if actor is None:
            raise _refused(transaction_id, messages.ERROR_UNEXPECTED, actor_id, messenger_id, 0)
        seat = selectors.seat_of(tenant=tenant, character_id=actor_id)
        left = None
        if seat is not None and seat.messenger.messenger_id == messenger_id:
            left = _vacate(tenant, transaction_id, actor, seat)
        if left is None:
            raise _refused(
                transaction_id, messages.ERROR_UNEXPECTED, actor_id, messenger_id, actor.world_id
            )
    return left


@errors.answered
def messenger_request_invite(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    actor_id: int,
    character_id: int,
    looked_up: LookedUp,
) -> Messenger | None:
    """REQUEST_INVITE: invite ``character_id`` to the actor's messenger,
    creating it first when the actor has none.

    The target is checked before any creation, so a refused invite creates
    nothing. Emits the invite CREATE command, then CREATED when one was created.
    Self-invites are not refused, as upstream. Returns the messenger.
    """
    with _acting(tenant, looked_up, actor_id) as actor:
        if actor is None:
            raise _refused(transaction_id, messages.ERROR_UNEXPECTED, actor_id, 0, 0)
        own_seat = selectors.seat_of(tenant=tenant, character_id=actor_id)
        own_id = own_seat.messenger.messenger_id if own_seat is not None else 0
        target = selectors.character(tenant=tenant, character_id=character_id)
        if target is None:
            raise _refused(transaction_id, messages.ERROR_UNEXPECTED, actor_id, own_id, 0)
        target_seat = selectors.seat_of(tenant=tenant, character_id=character_id)
        if target_seat is not None:
            raise _refused(
                transaction_id,
                messages.ERROR_ALREADY_JOINED_2,
                actor_id,
                target_seat.messenger.messenger_id,
                target.world_id,
                character_name=target.name,
            )
        if own_seat is None:
            messenger = _open(tenant, actor)
            created = True
        else:
            messenger = _locked_messenger(tenant, own_id)
            created = False
            if messenger is None:  # closed meanwhile: nothing, as upstream
                return None
            if selectors.member_count(messenger=messenger) >= CAPACITY:
                raise _refused(
                    transaction_id, messages.ERROR_FULL, actor_id, own_id, target.world_id
                )
        bus.emit(
            tenant=tenant,
            topic=messages.COMMAND_TOPIC_INVITE,
            key=messages.invite_key(messenger.messenger_id),
            value=messages.invite_command(
                transaction_id=transaction_id,
                world_id=actor.world_id,
                originator_id=actor_id,
                target_id=character_id,
                messenger_id=messenger.messenger_id,
            ),
        )
        if created:
            _emit_created(tenant, transaction_id, actor, messenger)
    return messenger


def invite_accepted(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    invite_type: str,
    reference_id: int,
    target_id: int,
    looked_up: LookedUp,
) -> Member | None:
    """An accepted MESSENGER invite is the target's JOIN of the reference;
    other invite types belong to other services."""
    if invite_type != messages.INVITE_TYPE_MESSENGER:
        return None
    return messenger_join(
        tenant=tenant,
        transaction_id=transaction_id,
        actor_id=target_id,
        messenger_id=reference_id,
        looked_up=looked_up,
    )


# --- character status events -------------------------------------------------------------


def character_login(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    character_id: int,
    channel_id: int,
    looked_up: LookedUp,
) -> Character | None:
    """LOGIN: online on the channel; a seated character's member LOGIN event.

    The registry world stays the character service's; login never seats.
    """
    with _acting(tenant, looked_up, character_id) as character:
        if character is None:
            logger.info("LOGIN of unknown character %s in %s ignored", character_id, tenant)
            return None
        _update(character, online=True, channel_id=channel_id)
        seat = selectors.seat_of(tenant=tenant, character_id=character_id)
        if seat is not None:
            _emit_member(tenant, transaction_id, messages.MEMBER_LOGIN, character, seat)
    return character


def character_logout(
    *, tenant: Tenant, transaction_id: uuid.UUID, character_id: int, looked_up: LookedUp
) -> Member | None:
    """LOGOUT and DELETED: offline, and a seated character leaves:
    member LOGOUT, then LEFT (disbanding an emptied messenger). The record stays."""
    with _acting(tenant, looked_up, character_id) as character:
        if character is None:
            logger.info("LOGOUT of unknown character %s in %s ignored", character_id, tenant)
            return None
        _update(character, online=False)
        seat = selectors.seat_of(tenant=tenant, character_id=character_id)
        if seat is None:
            return None
        _emit_member(tenant, transaction_id, messages.MEMBER_LOGOUT, character, seat)
        return _vacate(tenant, transaction_id, character, seat)


def character_channel_changed(
    *, tenant: Tenant, character_id: int, channel_id: int, looked_up: LookedUp
) -> Character | None:
    """CHANNEL_CHANGED: the new channel; online untouched; no events."""
    with _acting(tenant, looked_up, character_id) as character:
        if character is None:
            return None
        _update(character, channel_id=channel_id)
    return character


# --- operators ---------------------------------------------------------------------------


def messenger_close(*, tenant: Tenant, messenger_id: int) -> list[Member]:
    """An operator closes a messenger: every member leaves, in seating order, with
    the LEFT a LEAVE would send (one fresh transaction id for the whole close), and
    the messenger is gone. Returns the members who left; none if it did not exist."""
    transaction_id = uuid.uuid4()
    with transaction.atomic():
        messenger = _locked_messenger(tenant, messenger_id)
        if messenger is None:
            return []
        members = selectors.members_in_order(messenger=messenger)
        records = selectors.characters(tenant=tenant, ids=[m.character_id for m in members])
        for member in members:
            member.delete()
            character = records.get(member.character_id)
            _emit_status(
                tenant,
                transaction_id,
                messages.STATUS_LEFT,
                character,
                messenger_id,
                messages.slot_body(member.slot),
                actor_id=member.character_id,
            )
        messenger.delete()
    logger.info("messenger %s closed in %s by an operator", messenger_id, tenant)
    return members


# --- helpers -----------------------------------------------------------------------------


@contextlib.contextmanager
def _acting(tenant: Tenant, looked_up: LookedUp, character_id: int) -> Iterator[Character | None]:
    """A service's own transaction, and the acting character's registry record locked
    in it (``None``: its lookup failed). The looked-up characters are recorded first,
    outside it, so a refusal, which rolls the transaction back, keeps them."""
    _record(tenant, looked_up)
    with transaction.atomic():
        yield _locked_character(tenant, character_id)


def _locked_character(tenant: Tenant, character_id: int) -> Character | None:
    """The character's registry record, locked (the per-character lock); ``None``:
    the lookup failed and no record exists."""
    return (
        Character.objects.select_for_update()
        .filter(tenant=tenant, character_id=character_id)
        .first()
    )


def _record(tenant: Tenant, looked_up: LookedUp) -> None:
    """Record the looked-up characters absent from the registry, before the
    service's own block, so a refusal keeps them.

    In one statement in id order, before any row is locked, so two first-time
    characters inviting each other at once cannot deadlock on each other's new
    rows. Created only if absent (never overwrite a record another flow just
    updated).
    """
    now = timezone.now()
    new = [
        Character(
            tenant=tenant,
            character_id=character_id,
            name=facts.name,
            world_id=facts.world_id,
            updated_at=now,
        )
        for character_id, facts in sorted(looked_up.items())
        if facts is not None
    ]
    if new:
        Character.objects.bulk_create(new, ignore_conflicts=True)


def _update(character: Character, **changes: object) -> None:
    for name, value in changes.items():
        setattr(character, name, value)
    character.updated_at = timezone.now()
    character.save(update_fields=[*changes, "updated_at"])


def _locked_messenger(tenant: Tenant, messenger_id: int) -> Messenger | None:
    return (
        Messenger.objects.select_for_update()
        .filter(tenant=tenant, messenger_id=messenger_id)
        .first()
    )


def _open(tenant: Tenant, creator: Character) -> Messenger:
    """A new messenger, next id of the tenant, the creator in seat 0."""
    messenger = Messenger.objects.create(
        tenant=tenant,
        messenger_id=sequences.next_id(tenant=tenant, name=SEQUENCE),
        created_at=timezone.now(),
    )
    _seat(tenant, messenger, creator.character_id, 0)
    return messenger


def _seat(tenant: Tenant, messenger: Messenger, character_id: int, slot: int) -> Member:
    return Member.objects.create(
        tenant=tenant,
        messenger=messenger,
        character_id=character_id,
        slot=slot,
        joined_at=timezone.now(),
    )


def _vacate(
    tenant: Tenant, transaction_id: uuid.UUID, character: Character, seat: Member
) -> Member | None:
    """Free the seat under the messenger's lock, disband an emptied messenger, emit LEFT.

    ``None`` if the seat was freed meanwhile (an operator closed the messenger).
    """
    messenger = Messenger.objects.select_for_update().filter(pk=seat.messenger_id).first()
    if messenger is None or not Member.objects.filter(pk=seat.pk).delete()[0]:
        return None
    if not selectors.member_count(messenger=messenger):
        messenger.delete()
    _emit_status(
        tenant,
        transaction_id,
        messages.STATUS_LEFT,
        character,
        messenger.messenger_id,
        messages.slot_body(seat.slot),
    )
    return seat


def _emit_created(
    tenant: Tenant, transaction_id: uuid.UUID, actor: Character, messenger: Messenger
) -> None:
    _emit_status(
        tenant,
        transaction_id,
        messages.STATUS_CREATED,
        actor,
        messenger.messenger_id,
        messages.created_body(),
    )


def _emit_status(
    tenant: Tenant,
    transaction_id: uuid.UUID,
    event_type: str,
    actor: Character | None,
    messenger_id: int,
    body: dict,
    *,
    actor_id: int | None = None,
) -> None:
    record = _status_record(
        event_type=event_type,
        transaction_id=transaction_id,
        actor_id=actor.character_id if actor is not None else actor_id or 0,
        world_id=actor.world_id if actor is not None else 0,
        messenger_id=messenger_id,
        body=body,
    )
    bus.emit_record(tenant, record)


def _status_record(*, messenger_id: int, **fields: Any) -> Record:
    """A messenger status event (``messages.status_event``'s fields), keyed by its
    messenger."""
    return Record(
        topic=messages.EVENT_TOPIC_MESSENGER_STATUS,
        key=messages.status_key(messenger_id),
        value=messages.status_event(messenger_id=messenger_id, **fields),
    )


def _refused(
    transaction_id: uuid.UUID,
    code: str,
    actor_id: int,
    messenger_id: int,
    world_id: int,
    *,
    character_name: str = "",
) -> DomainError:
    """ERR(code, actor, messenger, world[, name]) of: the refusal, answered by one
    ERROR status event."""
    return DomainError(
        f"messenger command of {actor_id} refused: {code} (messenger {messenger_id})",
        events=[
            error_record(
                transaction_id=transaction_id,
                code=code,
                actor_id=actor_id,
                messenger_id=messenger_id,
                world_id=world_id,
                character_name=character_name,
            )
        ],
    )


def error_record(
    *,
    transaction_id: uuid.UUID,
    code: str,
    actor_id: int,
    messenger_id: int,
    world_id: int,
    character_name: str = "",
) -> Record:
    """The ERROR status event (also the answer to a dead command)."""
    return _status_record(
        event_type=messages.STATUS_ERROR,
        transaction_id=transaction_id,
        actor_id=actor_id,
        world_id=world_id,
        messenger_id=messenger_id,
        body=messages.error_body(code, character_name),
    )


def _emit_member(
    tenant: Tenant, transaction_id: uuid.UUID, event_type: str, character: Character, seat: Member
) -> None:
    messenger_id = seat.messenger.messenger_id
    bus.emit(
        tenant=tenant,
        topic=messages.EVENT_TOPIC_MESSENGER_MEMBER_STATUS,
        key=messages.status_key(messenger_id),
        value=messages.member_status_event(
            event_type=event_type,
            transaction_id=transaction_id,
            world_id=character.world_id,
            messenger_id=messenger_id,
            character_id=character.character_id,
        ),
    )
