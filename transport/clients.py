"""Transport's lookups of outside services, and their local stand-ins.

- characters in a map: atlas-maps (``MAPS_SERVICE_URL``, else ``BASE_SERVICE_URL``),
  or the local ``CharacterPosition`` table kept current from character and map
  status events;
- random spawn portal of a map: atlas-data (``DATA_SERVICE_URL``), or the local
  ``SpawnPortal`` table;
- tenants and their route configuration: atlas-tenants (``TENANTS_SERVICE_URL``).

Callers use these only outside database transactions (before the tick's or a
handler's transaction) and pass the results in. Every HTTP read follows
upstream's client: tenant headers in decimal, ``page[number]``/``page[size]=250``
drained to ``meta.page.last``, 3 attempts with 503 and transport errors retried.

# PLATFORM: the HTTP part belongs on ``project.directory.http`` (get_collection
# with the retry policy) once it lands; until then it is kept in this one module.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

from django.conf import settings

from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from transport.models import CharacterPosition, SpawnPortal

logger = logging.getLogger(__name__)

NIL_UUID = uuid.UUID(int=0)
PAGE_SIZE = 250
ATTEMPTS = 3
# A spawn portal: type 0 ("sp") whose target is "no map".
SPAWN_PORTAL_TYPE = 0
NO_TARGET_MAP = 999999999


class Unavailable(Exception):
    """An outside service failed (non-200, transport error after the retries)."""


# --- HTTP ----------------------------------------------------------------------------


def _get(url: str, tenant_key: TenantKey | None) -> dict:
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if tenant_key is not None:
        headers.update(tenant_key.http_headers())
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=settings.TRANSPORT_HTTP_TIMEOUT) as resp:
                if resp.status not in (200, 202):
                    raise Unavailable(f"GET {url}: status {resp.status}")
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise Unavailable(f"GET {url}: status {exc.code}") from None
            last = exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
            last = exc
        if attempt + 1 < ATTEMPTS:
            time.sleep(min(2.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0))
    raise Unavailable(f"GET {url}: {last}")


def get_collection(base: str, path: str, tenant_key: TenantKey | None) -> list[dict]:
    """Every item of a JSON:API collection, page by page (a response without ``meta``
    is the whole collection; an empty page stops early)."""
    items: list[dict] = []
    number, last = 1, 1
    while number <= last:
        query = urlencode({"page[number]": number, "page[size]": PAGE_SIZE})
        document = _get(f"{base}{path}?{query}", tenant_key)
        data = document.get("data") or []
        if not isinstance(data, list):
            raise Unavailable(f"GET {path}: data is not a list")
        items.extend(data)
        meta = document.get("meta")
        if not isinstance(meta, dict) or not data:
            break
        try:
            last = int(meta["page"]["last"])
        except (KeyError, TypeError, ValueError):
            break
        number += 1
    return items


# --- lookups -------------------------------------------------------------------------


def characters_in_map(*, tenant: Tenant, world_id: int, channel_id: int, map_id: int) -> list[int]:
    """Characters in the nil instance of ``map_id`` on one channel."""
    base = settings.TRANSPORT_MAPS_URL
    if not base:
        return list(
            CharacterPosition.objects.filter(
                tenant=tenant,
                world_id=world_id,
                channel_id=channel_id,
                map_id=map_id,
                instance=NIL_UUID,
            )
            .order_by("character_id")
            .values_list("character_id", flat=True)
        )
    path = f"worlds/{world_id}/channels/{channel_id}/maps/{map_id}/instances/{NIL_UUID}/characters/"
    result = []
    for item in get_collection(base, path, tenant.key):
        try:
            result.append(int(item["id"]))
        except (KeyError, TypeError, ValueError):
            logger.warning("maps service: character item without a numeric id: %r", item)
    return result


def spawn_portal(*, tenant: Tenant, map_id: int) -> int:
    """A uniformly random spawn portal id of ``map_id``.

    With no candidate the warp uses portal 0 (upstream discards the route's whole
    batch: a map without spawn portal would then block every warp of the route).
    """
    base = settings.TRANSPORT_DATA_URL
    if not base:
        candidates = list(
            SpawnPortal.objects.filter(map_id=map_id).values_list("portal_id", flat=True)
        )
    else:
        candidates = []
        for item in get_collection(base, f"data/maps/{map_id}/portals", tenant.key):
            attributes = item.get("attributes") or {}
            if (
                attributes.get("type") == SPAWN_PORTAL_TYPE
                and attributes.get("targetMapId") == NO_TARGET_MAP
            ):
                try:
                    candidates.append(int(item["id"]))
                except (KeyError, TypeError, ValueError):
                    continue
    if not candidates:
        logger.warning("map %s has no spawn portal; warping to portal 0", map_id)
        return 0
    return random.choice(candidates)


def tenants() -> list[TenantKey]:
    """The tenant list of atlas-tenants."""
    result = []
    for item in get_collection(settings.TRANSPORT_TENANTS_URL, "tenants", None):
        attributes = item.get("attributes") or {}
        try:
            result.append(
                TenantKey(
                    uuid.UUID(item["id"]),
                    str(attributes.get("region", "")),
                    int(attributes.get("majorVersion", 0)),
                    int(attributes.get("minorVersion", 0)),
                )
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("tenants service: malformed tenant item %r", item)
    return result


def configuration(*, tenant_key: TenantKey, resource: str) -> list[dict]:
    """``routes``, ``vessels`` or ``instance-routes`` of a tenant, as JSON:API items."""
    return get_collection(
        settings.TRANSPORT_TENANTS_URL,
        f"tenants/{tenant_key.id}/configurations/{resource}",
        tenant_key,
    )
