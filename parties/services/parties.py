"""The party commands and the operator actions on parties."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction

from parties import events, lookups, membership, messages, selectors
from parties.lookups import LookedUp
from parties.models import Character, Party
from project.messaging import errors
from project.tenancy import sequences
from project.tenancy.models import Tenant

logger = logging.getLogger(__name__)

SEQUENCE = "party"
CAPACITY = 6
NIL_UUID = messages.NIL_UUID


def is_beginner(job_id: int) -> bool:
    """Beginner, Noblesse, Legend and Evan beginners: 0-99, 1000-1099, 2000-2099."""
    return job_id // 1000 in (0, 1, 2) and job_id % 1000 < 100


# --- party commands ------------------------------------------------------------


@errors.answered
def party_create(
    *, tenant: Tenant, actor_id: int, looked_up: LookedUp = lookups.NOTHING
) -> Party | None:
    """CREATE: the actor founds a party and leads it.

    Checks in upstream's order: lookup, already in a party, beginner, GM.
    """
    with membership.acting(tenant, looked_up, actor_id) as leader:
        if leader is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED, actor_id=actor_id, world_id=0, party_id=0
            )
        refusal = _creation_refusal(leader)
        if refusal:
            raise events.refusal(refusal, actor_id=actor_id, world_id=leader.world_id, party_id=0)
        party = _found_party(tenant, leader)
        events.status(
            tenant,
            messages.STATUS_CREATED,
            actor_id=actor_id,
            world_id=leader.world_id,
            party_id=party.party_id,
        )
    return party


@errors.answered(refused=bool)
def party_join(
    *, tenant: Tenant, character_id: int, party_id: int, looked_up: LookedUp = lookups.NOTHING
) -> bool:
    """JOIN, from a command or an accepted invite: the character joins the party.

    No beginner, GM, world or invitation check, as upstream. Returns whether it joined.
    """
    with membership.acting(tenant, looked_up, character_id) as joiner:
        if joiner is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED,
                actor_id=character_id,
                world_id=0,
                party_id=party_id,
            )
        if joiner.party_id is not None:
            #: the character's current party, not the requested one.
            raise events.refusal(
                messages.ALREADY_HAVE_JOINED_A_PARTY_2,
                actor_id=character_id,
                world_id=joiner.world_id,
                party_id=joiner.party.party_id,
            )
        party = membership.lock_party(tenant, party_id)
        if party is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED,
                actor_id=character_id,
                world_id=joiner.world_id,
                party_id=party_id,
            )
        if selectors.member_count(party=party) >= CAPACITY:
            raise events.refusal(
                messages.THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY,
                actor_id=character_id,
                world_id=joiner.world_id,
                party_id=party_id,
            )
        if not membership.claim(joiner, party):
            raise events.lost_race(
                f"character {character_id} joined another party meanwhile",
                messages.ALREADY_HAVE_JOINED_A_PARTY_2,
                actor_id=character_id,
                world_id=joiner.world_id,
                party_id=membership.current_party_number(joiner),
            )
        events.status(
            tenant,
            messages.STATUS_JOINED,
            actor_id=character_id,
            world_id=joiner.world_id,
            party_id=party_id,
        )
    return True


def _leave(
    *,
    tenant: Tenant,
    character_id: int,
    party_id: int,
    transaction_id: uuid.UUID = NIL_UUID,
    looked_up: LookedUp = lookups.NOTHING,
) -> bool:
    """LEAVE without ``force``: the character leaves; a leader leaving disbands.

    LEFT and DISBAND echo ``transaction_id``; ERRORs carry the nil UUID. There is
    no leader election: the leader leaving always disbands.
    """
    with membership.acting(tenant, looked_up, character_id) as leaver:
        if leaver is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED,
                actor_id=character_id,
                world_id=0,
                party_id=party_id,
            )
        party = None
        if membership.party_number(leaver) == party_id:
            party = membership.lock_party(tenant, party_id)
        if party is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED,
                actor_id=character_id,
                world_id=leaver.world_id,
                party_id=party_id,
            )
        former = [member.character_id for member in selectors.members_in_order(party=party)]
        if not membership.release(leaver, party):
            raise events.lost_race(
                f"character {character_id} left party {party_id} meanwhile",
                messages.ERROR_UNEXPECTED,
                actor_id=character_id,
                world_id=leaver.world_id,
                party_id=party_id,
            )
        if party.leader_id == character_id:
            membership.dissolve(party)
            events.status(
                tenant,
                messages.STATUS_DISBAND,
                actor_id=character_id,
                world_id=leaver.world_id,
                party_id=party_id,
                body=messages.disband_body(former),
                transaction_id=transaction_id,
            )
        else:
            events.status(
                tenant,
                messages.STATUS_LEFT,
                actor_id=character_id,
                world_id=leaver.world_id,
                party_id=party_id,
                transaction_id=transaction_id,
            )
    return True


party_leave = errors.answered(_leave, refused=bool)


def _expel(
    *,
    tenant: Tenant,
    actor_id: int,
    party_id: int,
    character_id: int,
    looked_up: LookedUp = lookups.NOTHING,
) -> bool:
    """LEAVE with ``force``: the leader expels a member.

    Project decision: only the current leader may expel, and not
    himself while others remain (the party would be leaderless); both refusals are
    ERROR_UNEXPECTED and change nothing. The last member expelling himself
    disbands with ``members: []``. Nothing here echoes the transaction id.
    """
    with membership.acting(tenant, looked_up, character_id) as target:
        if target is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED, actor_id=actor_id, world_id=0, party_id=party_id
            )
        unexpected = events.refusal(
            messages.ERROR_UNEXPECTED,
            actor_id=actor_id,
            world_id=target.world_id,
            party_id=party_id,
        )
        if membership.party_number(target) != party_id:
            raise unexpected
        party = membership.lock_party(tenant, party_id)
        if party is None:
            raise unexpected
        others = selectors.member_count(party=party) - 1
        if party.leader_id != actor_id or (character_id == party.leader_id and others > 0):
            raise unexpected
        if not membership.release(target, party):
            raise events.lost_race(
                f"character {character_id} left party {party_id} meanwhile",
                messages.ERROR_UNEXPECTED,
                actor_id=actor_id,
                world_id=target.world_id,
                party_id=party_id,
            )
        if others == 0:
            membership.dissolve(party)
            events.status(
                tenant,
                messages.STATUS_DISBAND,
                actor_id=actor_id,
                world_id=target.world_id,
                party_id=party_id,
                body=messages.disband_body([]),
            )
        else:
            events.status(
                tenant,
                messages.STATUS_EXPEL,
                actor_id=actor_id,
                world_id=target.world_id,
                party_id=party_id,
                body=messages.expel_body(character_id),
            )
    return True


party_expel = errors.answered(_expel, refused=bool)


def party_leave_command(
    *,
    tenant: Tenant,
    actor_id: int,
    party_id: int,
    character_id: int,
    force: bool,
    transaction_id: uuid.UUID = NIL_UUID,
    looked_up: LookedUp = lookups.NOTHING,
) -> bool:
    """The LEAVE command: ``force`` makes it an expel (the actor expels
    ``character_id``); otherwise the actor leaves and ``character_id`` is ignored."""
    if force:
        return party_expel(
            tenant=tenant,
            actor_id=actor_id,
            party_id=party_id,
            character_id=character_id,
            looked_up=looked_up,
        )
    return party_leave(
        tenant=tenant,
        character_id=actor_id,
        party_id=party_id,
        transaction_id=transaction_id,
        looked_up=looked_up,
    )


@errors.answered(refused=bool)
def party_change_leader(
    *,
    tenant: Tenant,
    actor_id: int,
    party_id: int,
    leader_id: int,
    looked_up: LookedUp = lookups.NOTHING,
) -> bool:
    """CHANGE_LEADER: the leader hands the party to a member.

    Project decision: only the current leader may; the REST PATCH
    sends the current leader as actor. Re-electing the current leader still emits
    CHANGE_LEADER, as upstream.
    """
    with membership.acting(tenant, looked_up, leader_id) as new_leader:
        if new_leader is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED, actor_id=actor_id, world_id=0, party_id=party_id
            )
        party = None
        if membership.party_number(new_leader) == party_id:
            party = membership.lock_party(tenant, party_id)
        if (
            party is None
            # It may have left between the read and the lock.
            or not selectors.in_party(character=new_leader, party=party)
            or party.leader_id != actor_id
        ):
            raise events.refusal(
                messages.ERROR_UNEXPECTED,
                actor_id=actor_id,
                world_id=new_leader.world_id,
                party_id=party_id,
            )
        party.leader_id = leader_id
        party.save(update_fields=["leader_id"])
        events.status(
            tenant,
            messages.STATUS_CHANGE_LEADER,
            actor_id=actor_id,
            world_id=new_leader.world_id,
            party_id=party_id,
            body=messages.change_leader_body(leader_id),
        )
    return True


@errors.answered(refused=bool)
def party_request_invite(
    *, tenant: Tenant, actor_id: int, character_id: int, looked_up: LookedUp = lookups.NOTHING
) -> bool:
    """REQUEST_INVITE: the actor invites a character, founding a party first
    when he has none; sends the invite service's CREATE command.

    For an auto-created party the invite command is emitted before CREATED, as
    upstream publishes it. Any member may invite (no leader check upstream).
    Returns whether the invite command was sent.
    """
    with membership.acting(tenant, looked_up, actor_id) as inviter:
        if inviter is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED, actor_id=actor_id, world_id=0, party_id=0
            )
        invitee = membership.character(tenant, character_id)
        if invitee is None:
            raise events.refusal(
                messages.ERROR_UNEXPECTED,
                actor_id=actor_id,
                world_id=0,
                party_id=membership.party_number(inviter),
            )
        if invitee.party_id is not None:
            raise events.refusal(
                messages.ALREADY_HAVE_JOINED_A_PARTY_2,
                actor_id=actor_id,
                world_id=invitee.world_id,
                party_id=invitee.party.party_id,
                character_name=invitee.name,
            )
        created = inviter.party_id is None
        if created:
            refusal = _creation_refusal(inviter)
            if refusal:
                raise events.refusal(
                    refusal, actor_id=actor_id, world_id=inviter.world_id, party_id=0
                )
            party = _found_party(tenant, inviter)
        else:
            party = membership.lock_party(tenant, inviter.party.party_id)
            if party is None:  # upstream: a stale partyId stops silently
                logger.info("REQUEST_INVITE by %s: party %s is gone", actor_id, inviter.party_id)
                return False
            if selectors.member_count(party=party) >= CAPACITY:
                raise events.refusal(
                    messages.THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY,
                    actor_id=actor_id,
                    world_id=invitee.world_id,
                    party_id=party.party_id,
                )
        events.invite(
            tenant,
            world_id=inviter.world_id,
            originator_id=actor_id,
            target_id=character_id,
            party_id=party.party_id,
        )
        if created:
            events.status(
                tenant,
                messages.STATUS_CREATED,
                actor_id=actor_id,
                world_id=inviter.world_id,
                party_id=party.party_id,
            )
    return True


def party_invite_accepted(
    *,
    tenant: Tenant,
    invite_type: str,
    reference_id: int,
    target_id: int,
    looked_up: LookedUp = lookups.NOTHING,
) -> bool:
    """Invite ACCEPTED: for a PARTY invite, the target joins the referenced party."""
    if invite_type != messages.INVITE_TYPE_PARTY:
        return False
    return party_join(
        tenant=tenant, character_id=target_id, party_id=reference_id, looked_up=looked_up
    )


# --- operator actions (admin) ------------------------------------------------------


def party_disband(*, tenant: Tenant, party_id: int) -> bool:
    """An operator disbands a stuck party: as if its leader left (DISBAND to all).

    The party stays locked from reading its leader to the leave, so a concurrent
    CHANGE_LEADER cannot turn the disband into the old leader's LEFT.
    """
    with transaction.atomic():
        party = membership.lock_party(tenant, party_id)
        if party is None:
            return False
        return _leave(tenant=tenant, character_id=party.leader_id, party_id=party_id)


def party_expel_by_operator(*, tenant: Tenant, character_id: int) -> bool:
    """An operator removes a member: as if the leader expelled him (EXPEL, or DISBAND
    for a leader alone). A leader with others in the party is refused, as for the
    leader himself; disband the party instead."""
    character = selectors.character_get(tenant=tenant, character_id=character_id)
    if character is None or character.party is None:
        return False
    party = character.party
    if character_id == party.leader_id and selectors.member_count(party=party) > 1:
        return False  # refused before the service would answer the leader with an ERROR
    return _expel(
        tenant=tenant,
        actor_id=character.party.leader_id,
        party_id=character.party.party_id,
        character_id=character_id,
    )


# --- helpers -------------------------------------------------------------------------


def _creation_refusal(leader: Character) -> str:
    """Why this character may not found a party, in upstream's check order, or ''."""
    if leader.party_id is not None:
        return messages.ALREADY_HAVE_JOINED_A_PARTY_1
    if is_beginner(leader.job_id):
        return messages.A_BEGINNER_CANT_CREATE_A_PARTY
    if leader.gm > 0:
        return messages.AS_A_GM_YOURE_FORBIDDEN_FROM_CREATING_A_PARTY
    return ""


def _found_party(tenant: Tenant, leader: Character) -> Party:
    """A new party with ``leader`` as its only member; its id is the tenant's next."""
    party = Party.objects.create(
        tenant=tenant,
        party_id=sequences.next_id(tenant=tenant, name=SEQUENCE),
        leader_id=leader.character_id,
    )
    if not membership.claim(leader, party):
        raise events.lost_race(
            f"character {leader.character_id} joined a party meanwhile",
            messages.ALREADY_HAVE_JOINED_A_PARTY_1,
            actor_id=leader.character_id,
            world_id=leader.world_id,
            party_id=0,
        )
    return party
