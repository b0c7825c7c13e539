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

import httpx
from django.conf import settings

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

    PLATFORM: ``project.directory.characters.fetch`` (local table when no URL is
    set, upstream's retries) will replace the HTTP call below; until it lands a
    deployment without ``CHARACTERS_SERVICE_URL`` / ``BASE_SERVICE_URL`` knows no
    character.
    """
    base = settings.MESSENGERS_CHARACTERS_URL
    if not base:
        logger.warning("no character service configured; character %s unknown", character_id)
        return None
    try:
        response = httpx.get(
            f"{base}characters/{character_id}",
            headers={
                **tenant_key.http_headers(),
                "Content-Type": "application/json; charset=utf-8",
            },
            timeout=settings.MESSENGERS_HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        logger.warning("character %s lookup failed: %s", character_id, exc)
        return None
    if response.status_code not in (200, 202):
        logger.info("character %s lookup: HTTP %s", character_id, response.status_code)
        return None
    return _facts_from_document(response, character_id)


def _facts_from_document(response: httpx.Response, character_id: int) -> Facts | None:
    try:
        data = response.json()["data"]
        attributes = data["attributes"]
        name, world_id = attributes["name"], attributes["worldId"]
    except (ValueError, KeyError, TypeError):
        logger.info("character %s lookup: not a character document", character_id)
        return None
    if data.get("type") != "characters" or not isinstance(name, str) or not name:
        return None
    if isinstance(world_id, bool) or not isinstance(world_id, int) or not 0 <= world_id <= 255:
        return None
    return Facts(name=name, world_id=world_id)


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
