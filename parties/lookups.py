"""What the character and maps services say about a character (spec/parties.md §8.1).

The one module of this app that asks outside services. It is called only from
``parties.prepare`` (before the inbox transaction, outside any lock), never from
a service. Its answers are plain values (``CharacterFacts``) that travel on the
inbox row as JSON.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass

from project import directory
from project.directory import characters
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
    character's world with channel 0, map 0 and the nil instance (§8.1 step 2)."""
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
