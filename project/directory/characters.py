"""Characters: who they are (character service) and where they are (maps service)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from django.db import DatabaseError, transaction

from project.directory import http
from project.directory.errors import NotFound, Unavailable
from project.directory.models import Character as LocalCharacter
from project.tenancy import TenantKey
from project.tenancy.models import key_filter

NIL = uuid.UUID(int=0)

Facts = TypeVar("Facts")


@dataclass(frozen=True, slots=True)
class Character:
    """The attributes of ``GET characters/{id}`` the services use."""

    id: int
    world_id: int
    name: str
    level: int
    job_id: int
    gm: int

    def as_json(self) -> dict:
        """For a ``prepare`` result (stored on the inbox row as JSON)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Character:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Location:
    """``GET characters/{id}/location`` of the maps service."""

    world_id: int
    channel_id: int
    map_id: int
    instance: uuid.UUID

    def as_json(self) -> dict:
        return {**asdict(self), "instance": str(self.instance)}

    @classmethod
    def from_json(cls, data: dict) -> Location:
        return cls(**{**data, "instance": uuid.UUID(data["instance"])})


def fetch(tenant_key: TenantKey, character_id: int) -> Character:
    """The character, from the character service or the local directory.

    Raises ``NotFound`` (unknown) or ``Unavailable`` (no answer after retries).
    """
    if not http.configured("CHARACTERS"):
        row = _local(tenant_key, character_id)
        return Character(row.character_id, row.world_id, row.name, row.level, row.job_id, row.gm)
    data = http.resource(
        http.get_document("CHARACTERS", f"characters/{character_id}", tenant_key=tenant_key),
        "characters",
    )
    attributes = data.get("attributes") or {}
    try:
        return Character(
            id=int(data["id"]),
            world_id=_int(attributes, "worldId"),
            name=str(attributes.get("name") or ""),
            level=_int(attributes, "level"),
            job_id=_int(attributes, "jobId"),
            gm=_int(attributes, "gm"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unavailable(f"characters/{character_id}: malformed document: {exc}") from None


def location(tenant_key: TenantKey, character_id: int) -> Location | None:
    """Where the character is; ``None`` when the maps service does not know it."""
    if not http.configured("MAPS"):
        try:
            row = _local(tenant_key, character_id)
        except NotFound:
            return None
        return Location(row.world_id, row.channel_id, row.map_id, row.instance)
    try:
        document = http.get_document(
            "MAPS", f"characters/{character_id}/location", tenant_key=tenant_key
        )
    except NotFound:
        return None
    data = http.resource(document, "character-locations")
    attributes = data.get("attributes") or {}
    try:
        return Location(
            world_id=_int(attributes, "worldId"),
            channel_id=_int(attributes, "channelId"),
            map_id=_int(attributes, "mapId"),
            instance=uuid.UUID(str(attributes.get("instance") or NIL)),
        )
    except (TypeError, ValueError) as exc:
        raise Unavailable(f"characters/{character_id}/location: malformed: {exc}") from None


def at_login(
    first: Facts | None, fetch_again: Callable[[], Facts | None], placed: Callable[[Facts], Facts]
) -> Facts | None:
    """A LOGIN's lookup, as upstream's parties and messengers make it: when the first
    lookup failed, the character service is asked once more, and a character from
    that second answer is placed where the event says (``placed``: its world, and
    channel and map where the app keeps them). ``None`` when both failed."""
    if first is not None:
        return first
    again = fetch_again()
    return None if again is None else placed(again)


def world_of(looked_up: Any, stored: Callable[[], Any]) -> int:
    """A character's world for an answer that must be written whatever happens (a
    dead command's ERROR): from the lookup (``looked_up``: facts or ``None``), else
    from the app's stored character (``stored()``, read in a savepoint), else 0. A
    database that cannot even be read must not keep the answer from being written."""
    if looked_up is not None:
        return looked_up.world_id
    try:
        with transaction.atomic():
            known = stored()
    except DatabaseError:
        return 0
    return known.world_id if known is not None else 0


def _int(attributes: dict, name: str) -> int:
    value = attributes.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not an integer")
    return value


def _local(tenant_key: TenantKey, character_id: int) -> LocalCharacter:
    row = LocalCharacter.objects.filter(
        **key_filter(tenant_key),
        character_id=character_id,
    ).first()
    if row is None:
        raise NotFound(f"character {character_id} is not in the local directory")
    return row
