"""Looking characters up in the character service (spec/messengers.md §6, step 2).

The one module that talks to the outside for messengers, so switching the source
is a one-file change. Called only from ``prepare`` steps (``handlers``) and REST
views, never inside a transaction: a lookup may wait on HTTP.

What a lookup yields is ``Facts`` (the two attributes upstream uses, name and
world), or ``None`` when it failed. An empty name counts as a failure (E14:
upstream would store an all-zero record under that id).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from project import directory
from project.directory import characters
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


# Character id -> facts, or None when the lookup failed. Ids absent from the
# mapping were already in the registry when the lookups ran.
Looked = dict[int, "Facts | None"]


def fetch(tenant_key: TenantKey, character_id: int) -> Facts | None:
    """Fetch one character; ``None`` if it is unknown or the service cannot answer.

    The directory asks the character service (``CHARACTERS_SERVICE_URL``, else
    ``BASE_SERVICE_URL``; three attempts on transport errors and 503) or, with no
    URL, the local directory. Every failure, an outage included, is a failed
    lookup, as upstream's (§6): the command is answered with ``ERROR_UNEXPECTED``
    rather than left waiting.
    """
    try:
        character = characters.fetch(tenant_key, character_id)
    except directory.LookupFailed as exc:
        logger.info("character %s lookup failed: %s", character_id, exc)
        return None
    if not character.name:
        logger.info("character %s has an empty name: a failed lookup (E14)", character_id)
        return None
    return Facts(name=character.name, world_id=character.world_id)


def fetch_unknown(tenant_key: TenantKey, ids: Iterable[int], known: set[int]) -> Looked:
    """Look up each id not in ``known`` (the registry), once each."""
    return {i: fetch(tenant_key, i) for i in dict.fromkeys(ids) if i not in known}


def to_json(looked: Looked) -> dict:
    """The form stored on the inbox row (``prepared``): JSON keys are strings."""
    return {str(i): (f.as_json() if f is not None else None) for i, f in looked.items()}


def from_json(value: Mapping | None) -> Looked:
    if not value:
        return {}
    return {int(i): (Facts.from_json(f) if f is not None else None) for i, f in value.items()}
