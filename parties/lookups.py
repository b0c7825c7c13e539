"""Lookups: what the character and maps services say about a character.

The one module of this app that asks outside services: its prepare steps run
before the inbox transaction, outside any database lock (the only place a
handler may wait on another service), never from a service. Only characters the
cache does not hold are fetched; LOGIN and
GM_CHANGED also refetch a cached character. The answers are plain
values (``CharacterFacts``) that travel on the inbox row as JSON; ``looked_up``
turns them back into what a service takes.

A lookup that fails is recorded as ``None``: the service then answers with the
ERROR event upstream sends (or does nothing, for character events). A failing or slow
character service therefore costs one record its bounded retries and never
blocks a key or holds a lock.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import asdict, dataclass, field

from parties import messages, selectors
from project import directory
from project.directory import characters
from project.messaging import registry
from project.tenancy import TenantKey

logger = logging.getLogger(__name__)

NIL_UUID = uuid.UUID(int=0)


class LookupFailed(Exception):
    """The character service did not give the character (404, 5xx after retries, network)."""


@dataclass(frozen=True, slots=True)
class CharacterFacts:
    """A character as the services describe it: the cache entry's content."""

    character_id: int
    world_id: int
    name: str
    level: int
    job_id: int
    gm: int
    channel_id: int = 0
    map_id: int = 0
    instance: str = str(NIL_UUID)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CharacterFacts:
        return cls(**data)


def fetch_character(tenant_key: TenantKey, character_id: int) -> CharacterFacts:
    """``GET characters/{id}``: name, level, job, GM level and world; no location.

    Raises ``LookupFailed`` when the service has no such character or cannot answer
    (after the client's bounded retries).
    """
    try:
        found = characters.fetch(tenant_key, character_id)
    except directory.LookupFailed as exc:
        raise LookupFailed(f"character {character_id}: {exc}") from exc
    return CharacterFacts(
        character_id=character_id,
        world_id=found.world_id,
        name=found.name,
        level=found.level,
        job_id=found.job_id,
        gm=found.gm,
        channel_id=0,
        map_id=0,
        instance=str(NIL_UUID),
    )


def with_location(tenant_key: TenantKey, facts: CharacterFacts) -> CharacterFacts:
    """Add where the maps service says the character is; any failure keeps the
    character's world with channel 0, map 0 and the nil instance."""
    try:
        where = characters.location(tenant_key, facts.character_id)
    except directory.LookupFailed as exc:  # a failed location never fails the lookup
        logger.info("location of %s unavailable: %s", facts.character_id, exc)
        where = None
    if where is None:
        return facts
    return CharacterFacts(
        character_id=facts.character_id,
        world_id=where.world_id,
        name=facts.name,
        level=facts.level,
        job_id=facts.job_id,
        gm=facts.gm,
        channel_id=where.channel_id,
        map_id=where.map_id,
        instance=str(where.instance),
    )


def look_up(tenant_key: TenantKey, character_id: int) -> CharacterFacts | None:
    """The cache's population on a miss: the character, then its location; ``None``
    when the character service failed (nothing is cached then)."""
    try:
        facts = fetch_character(tenant_key, character_id)
    except LookupFailed as exc:
        logger.info("lookup failed: %s", exc)
        return None
    return with_location(tenant_key, facts)


# --- what a service gets ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookedUp:
    """What a service needs from the prepare step: the ``looked_up`` it is called with."""

    # Characters missing from the cache when the lookup ran: their facts, or None
    # when the character service failed. A character absent from it was cached.
    fetched: dict[int, CharacterFacts | None] = field(default_factory=dict)
    # LOGIN / GM_CHANGED: the character service's current answer (None: failed).
    fresh: CharacterFacts | None = None

    @classmethod
    def from_message(cls, message: registry.Message) -> LookedUp:
        value = message.prepared or {}
        fetched = {
            int(character_id): None if facts is None else CharacterFacts.from_json(facts)
            for character_id, facts in (value.get("characters") or {}).items()
        }
        fresh = value.get("fresh")
        return cls(fetched, None if fresh is None else CharacterFacts.from_json(fresh))


# A service called with no lookup (an operator action, a test): nothing was fetched.
NOTHING = LookedUp()


def looked_up(message: registry.Message) -> LookedUp:
    """The prepare step's answers, as the services take them."""
    return LookedUp.from_message(message)


# --- prepare steps --------------------------------------------------------------------


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
            character_id: look_up(message.tenant.key, character_id)
            for character_id in wanted
            if character_id not in cached
        }
    )


def _fetch_or_none(message: registry.Message, character_id: int) -> CharacterFacts | None:
    try:
        return fetch_character(message.tenant.key, character_id)
    except LookupFailed:
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
    facts = look_up(message.tenant.key, character_id)
    return _result({character_id: facts}, facts)


def login(message: registry.Message) -> dict:
    """LOGIN: as ``character_refetched``; and when populating fails, one more
    fetch, whose character is placed where the event says (world, channel, map)."""
    args = message.args
    character_id = args["character_id"]
    if selectors.cached_character_ids(tenant=message.tenant, character_ids=[character_id]):
        return _result({}, _fetch_or_none(message, character_id))
    facts = characters.at_login(
        look_up(message.tenant.key, character_id),
        lambda: _fetch_or_none(message, character_id),
        lambda again: dataclasses.replace(
            again,
            world_id=args["world_id"],
            channel_id=args["channel_id"],
            map_id=args["map_id"],
            instance=str(messages.NIL_UUID),
        ),
    )
    return _result({character_id: facts}, facts)
