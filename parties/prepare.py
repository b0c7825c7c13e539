"""Prepare steps: the character lookups a record needs, run before its inbox transaction.

The registry runs these outside any database lock (the only place a handler may
wait on another service) and stores the JSON they return on the inbox row; the
handler turns it back into ``Prepared`` for the service. Only characters the
cache does not hold are fetched (§8.1: every miss populates the cache); LOGIN and
GM_CHANGED also refetch a cached character (§8.3, §8.9).

A lookup that fails is recorded as ``None``: the service then answers with the
spec's ERROR event (or does nothing, for character events). A failing or slow
character service therefore costs one record its bounded retries and never
blocks a key or holds a lock.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from parties import lookups, messages, selectors
from parties.lookups import CharacterFacts
from project.messaging import registry


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a service needs from the prepare step."""

    # Characters missing from the cache when the lookup ran: their facts, or None
    # when the character service failed.
    fetched: dict[int, CharacterFacts | None]
    # LOGIN / GM_CHANGED: the character service's current answer (None: failed).
    fresh: CharacterFacts | None = None

    @classmethod
    def from_message(cls, message: registry.Message) -> Prepared:
        value = message.prepared or {}
        fetched = {
            int(character_id): None if facts is None else CharacterFacts.from_json(facts)
            for character_id, facts in (value.get("characters") or {}).items()
        }
        fresh = value.get("fresh")
        return cls(fetched, None if fresh is None else CharacterFacts.from_json(fresh))


def _result(fetched: dict[int, CharacterFacts | None], fresh: CharacterFacts | None = None) -> dict:
    return {
        "characters": {
            str(character_id): None if facts is None else facts.as_json()
            for character_id, facts in fetched.items()
        },
        "fresh": None if fresh is None else fresh.as_json(),
    }


def _missing(message: registry.Message, *character_ids: int) -> dict:
    """Look up the characters the cache does not hold."""
    wanted = list(dict.fromkeys(character_ids))
    cached = selectors.cached_character_ids(tenant=message.tenant, character_ids=wanted)
    return _result(
        {
            character_id: lookups.look_up(message.tenant.key, character_id)
            for character_id in wanted
            if character_id not in cached
        }
    )


def _fetch_or_none(message: registry.Message, character_id: int) -> CharacterFacts | None:
    try:
        return lookups.fetch_character(message.tenant.key, character_id)
    except lookups.LookupFailed:
        return None


# --- party commands ------------------------------------------------------------------


def actor(message: registry.Message) -> dict:
    """CREATE and JOIN: the actor."""
    return _missing(message, message.args["actor_id"])


def leave(message: registry.Message) -> dict:
    """LEAVE: the leaver, or with ``force`` the character to expel."""
    args = message.args
    return _missing(message, args["character_id"] if args["force"] else args["actor_id"])


def change_leader(message: registry.Message) -> dict:
    """CHANGE_LEADER: the new leader (the only character upstream looks up)."""
    return _missing(message, message.args["leader_id"])


def request_invite(message: registry.Message) -> dict:
    """REQUEST_INVITE: the inviter, then the invitee."""
    args = message.args
    return _missing(message, args["actor_id"], args["character_id"])


def invite_accepted(message: registry.Message) -> dict:
    """Invite ACCEPTED: the target, for party invites only (others are ignored)."""
    args = message.args
    if args["invite_type"] != messages.INVITE_TYPE_PARTY:
        return _result({})
    return _missing(message, args["target_id"])


# --- character events -------------------------------------------------------------


def character(message: registry.Message) -> dict:
    """Most character events: the character, when not cached."""
    return _missing(message, message.args["character_id"])


def character_refetched(message: registry.Message) -> dict:
    """GM_CHANGED: a cached character is fetched again; a missing one is populated
    (one fetch serves both)."""
    character_id = message.args["character_id"]
    if selectors.cached_character_ids(tenant=message.tenant, character_ids=[character_id]):
        return _result({}, _fetch_or_none(message, character_id))
    facts = lookups.look_up(message.tenant.key, character_id)
    return _result({character_id: facts}, facts)


def login(message: registry.Message) -> dict:
    """LOGIN (§8.3): as ``character_refetched``; and when populating fails, one more
    fetch, whose character is placed where the event says (world, channel, map)."""
    args = message.args
    character_id = args["character_id"]
    if selectors.cached_character_ids(tenant=message.tenant, character_ids=[character_id]):
        return _result({}, _fetch_or_none(message, character_id))
    facts = lookups.look_up(message.tenant.key, character_id)
    if facts is None:
        again = _fetch_or_none(message, character_id)
        if again is not None:
            facts = dataclasses.replace(
                again,
                world_id=args["world_id"],
                channel_id=args["channel_id"],
                map_id=args["map_id"],
                instance=str(messages.NIL_UUID),
            )
    return _result({character_id: facts}, facts)
