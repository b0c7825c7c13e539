"""Lookups: transport's questions to outside services, on the platform's directory.

- characters in a map: ``project.directory.maps`` (atlas-maps, or the local
  directory kept current from character status events);
- a random spawn portal of a map: ``project.directory.data`` (atlas-data, or the
  local portal table);
- tenants and their route configuration: atlas-tenants through the platform's
  generic client (``TENANTS_SERVICE_URL``, else ``BASE_SERVICE_URL``).

Callers use these only outside database transactions (before the tick's
transaction, or in a handler's prepare step, ``logout_portal``) and pass the
results in.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass

from django.conf import settings

from project.directory import LookupFailed, NotFound, data, http, maps
from project.directory import tenants as tenant_list
from project.messaging import registry
from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from transport import selectors

logger = logging.getLogger(__name__)

NIL_UUID = uuid.UUID(int=0)
# A spawn portal: type 0 whose target is "no map".
SPAWN_PORTAL_TYPE = 0
NO_TARGET_MAP = 999999999

Unavailable = LookupFailed  # any failed lookup: the caller retries later


def tenants_service_configured() -> bool:
    return http.configured("TENANTS")


def seed_is_default() -> bool:
    """New tenants get the shipped seed: no tenants service, and not switched off."""
    return settings.TRANSPORT_SEED_NEW_TENANTS and not tenants_service_configured()


def characters_in_map(*, tenant: Tenant, world_id: int, channel_id: int, map_id: int) -> list[int]:
    """Characters in the nil instance of ``map_id`` on one channel (a map the maps
    service does not know, 404, has nobody in it)."""
    try:
        return maps.characters_in_map(
            tenant.key, world_id=world_id, channel_id=channel_id, map_id=map_id, instance=NIL_UUID
        )
    except NotFound:
        return []


def spawn_portal(*, tenant: Tenant, map_id: int) -> int:
    """A uniformly random spawn portal id of ``map_id``, fetched per warp as upstream.

    With no candidate (or a map the data service does not know) the warp uses
    portal 0; upstream discards the route's whole batch, so one map without a
    spawn point would block every warp of the route.
    """
    try:
        portals = data.portals(tenant.key, map_id)
    except NotFound:
        portals = []
    candidates = [
        p.id for p in portals if p.type == SPAWN_PORTAL_TYPE and p.target_map_id == NO_TARGET_MAP
    ]
    if not candidates:
        logger.warning("map %s has no spawn portal; warping to portal 0", map_id)
        return 0
    return random.choice(candidates)


def tenants() -> list[TenantKey]:
    """The tenant list of atlas-tenants."""
    return tenant_list.keys()


def configuration(*, tenant_key: TenantKey, resource: str) -> list[dict]:
    """``routes``, ``vessels`` or ``instance-routes`` of a tenant, as JSON:API items."""
    return http.get_collection(
        "TENANTS", f"tenants/{tenant_key.id}/configurations/{resource}", tenant_key=tenant_key
    )


# --- prepare steps -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookedUp:
    """What LOGOUT's service is called with as ``looked_up``: the start map of the
    route owning the character's map, and the spawn portal chosen in it."""

    map_id: int
    portal_id: int


def looked_up(message: registry.Message) -> LookedUp | None:
    """The prepare step's answer, as the service takes it (``None``: no route)."""
    value = message.prepared
    if not value:
        return None
    return LookedUp(map_id=int(value["mapId"]), portal_id=int(value.get("portalId") or 0))


def logout_portal(message: registry.Message) -> dict | None:
    """LOGOUT: the spawn portal for the warp, when the map belongs to a route."""
    route = selectors.scheduled_route_owning_map(
        tenant=message.tenant, map_id=message.data["body"]["mapId"]
    )
    if route is None:
        return None
    try:
        portal = spawn_portal(tenant=message.tenant, map_id=route.start_map_id)
    except Unavailable as exc:
        logger.warning("spawn portal of map %s unavailable: %s", route.start_map_id, exc)
        portal = 0
    return {"mapId": route.start_map_id, "portalId": portal}
