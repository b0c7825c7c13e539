"""Lookups: characters in the character service.

The one module that talks to the outside for messengers, so switching the source
is a one-file change. Its prepare steps look up the characters a message names
that the registry does not know yet; they run before the inbox transaction,
outside any lock (a lookup may wait on HTTP). Their result is stored on the
inbox row, so a retried row does not look up again, and ``looked_up`` gives it
to the service, which creates the registry records from it.

What a lookup yields is ``Facts`` (the two attributes upstream uses, name and
world), or ``None`` when it failed. An empty name counts as a failure
(upstream would store an all-zero record under that id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from messengers import messages, selectors
from project import directory
from project.directory import characters
from project.messaging import registry
from project.tenancy import TenantKey

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the character service says about a character, as the registry keeps it."""

    name: str
    world_id: int

    def as_json(self) -> dict:
        return {"name": self.name, "worldId": self.world_id}

    @classmethod
    def from_json(cls, value: Mapping) -> Facts:
        return cls(name=str(value["name"]), world_id=int(value["worldId"]))


# What a service is called with as ``looked_up``: character id -> facts, or None
# when the lookup failed. Ids absent from it were already in the registry when the
# lookups ran.
LookedUp = Mapping[int, Facts | None]


def fetch(tenant_key: TenantKey, character_id: int) -> Facts | None:
    """Fetch one character; ``None`` if it is unknown or the service cannot answer.

    The directory asks the character service (``CHARACTERS_SERVICE_URL``, else
    ``BASE_SERVICE_URL``; three attempts on transport errors and 503) or, with no
    URL, the local directory. Every failure, an outage included, is a failed
    lookup, as upstream's: the command is answered with ``ERROR_UNEXPECTED``
    rather than left waiting.
    """
    try:
        character = characters.fetch(tenant_key, character_id)
    except directory.LookupFailed as exc:
        logger.info("character %s lookup failed: %s", character_id, exc)
        return None
    if not character.name:
        logger.info("character %s has an empty name: a failed lookup", character_id)
        return None
    return Facts(name=character.name, world_id=character.world_id)


def fetch_unknown(tenant_key: TenantKey, ids: Iterable[int], known: set[int]) -> LookedUp:
    """Look up each id not in ``known`` (the registry), once each."""
    return {i: fetch(tenant_key, i) for i in dict.fromkeys(ids) if i not in known}


def to_json(looked_up: LookedUp) -> dict:
    """The form stored on the inbox row (``prepared``): JSON keys are strings."""
    return {str(i): (f.as_json() if f is not None else None) for i, f in looked_up.items()}


def from_json(value: Mapping | None) -> LookedUp:
    if not value:
        return {}
    return {int(i): (Facts.from_json(f) if f is not None else None) for i, f in value.items()}


def looked_up(message: registry.Message) -> LookedUp:
    """The prepare step's answers, as the services take them."""
    return from_json(message.prepared)


# --- prepare steps -----------------------------------------------------------------------


def _unknown(message: registry.Message, ids: list[int]) -> dict:
    """Fetch those of ``ids`` the registry does not know; the JSON ``prepared`` form."""
    known = selectors.known_character_ids(tenant=message.tenant, ids=ids)
    return to_json(fetch_unknown(message.tenant.key, ids, known))


def characters_named(*fields: str) -> Callable[[registry.Message], dict]:
    """A prepare step that looks up the characters named by ``fields`` of the message."""

    def prepare(message: registry.Message) -> dict:
        args = message.args
        return _unknown(message, [args[name] for name in fields])

    prepare.__qualname__ = f"characters_named{fields}"
    return prepare


def login(message: registry.Message) -> dict:
    """LOGIN tries once more when the first lookup failed; a record made from that
    second answer takes the event's world."""
    args = message.args
    character_id = args["character_id"]
    if selectors.known_character_ids(tenant=message.tenant, ids=[character_id]):
        return {}
    facts = characters.at_login(
        fetch(message.tenant.key, character_id),
        lambda: fetch(message.tenant.key, character_id),
        lambda again: Facts(name=again.name, world_id=args["world_id"]),
    )
    return to_json({character_id: facts})


def invite_accepted(message: registry.Message) -> dict:
    """Only MESSENGER invites concern this service: no lookup for the others."""
    args = message.args
    if args["invite_type"] != messages.INVITE_TYPE_MESSENGER:
        return {}
    return _unknown(message, [args["target_id"]])
