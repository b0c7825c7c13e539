"""Route configuration as values: parsing JSON:API resources and upstream's invariants.

The same parser serves the seed files shipped in ``transport/seed/``, the tenants
service's documents and the admin's forms (via ``validate_*``). A failing item
raises ``ConfigError`` naming the resource and the broken rule; the caller then
keeps the previous configuration (a load is all or nothing per registry).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SEED_DIR = Path(__file__).resolve().parent / "seed"
U32_MAX = 0xFFFFFFFF


class ConfigError(ValueError):
    """A configuration item breaks an invariant; the load is refused."""


@dataclass(frozen=True)
class RouteConfig:
    """A scheduled route; durations in seconds (the wire gives minutes)."""

    route_id: uuid.UUID
    slug: str
    name: str
    start_map_id: int
    staging_map_id: int
    en_route_map_ids: list[int]
    destination_map_id: int
    observation_map_id: int
    boarding_window: int
    pre_departure: int
    travel: int
    cycle_interval: int


@dataclass(frozen=True)
class VesselConfig:
    slug: str
    name: str
    route_a: str
    route_b: str
    turnaround: int  # seconds


@dataclass(frozen=True)
class InstanceRouteConfig:
    route_id: uuid.UUID
    slug: str
    name: str
    start_map_id: int
    transit_map_ids: list[int]
    destination_map_id: int
    capacity: int
    boarding_window: int
    travel: int
    transit_message: str = ""
    effect_item_ids: list[int] = field(default_factory=list)
    forced_return_map_id: int = 0


@dataclass(frozen=True)
class ScheduledConfig:
    routes: list[RouteConfig]
    vessels: list[VesselConfig]


def route_uuid(tenant_id: uuid.UUID, kind: str, slug: str, attributes: dict) -> uuid.UUID:
    """The ``uuid`` attribute if parseable, else UUIDv5(tenant, "<kind>/<slug>")."""
    raw = attributes.get("uuid")
    if isinstance(raw, str) and raw:
        try:
            return uuid.UUID(raw)
        except ValueError:
            pass
    return uuid.uuid5(tenant_id, f"{kind}/{slug}")


def _int(attributes: dict, key: str, where: str, *, default: int | None = None) -> int:
    value = attributes.get(key, default)
    if value is None and default is not None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: {key} must be an integer, got {value!r}")
    if not 0 <= value <= U32_MAX:
        raise ConfigError(f"{where}: {key} {value} is out of range")
    return value


def _ints(attributes: dict, key: str, where: str) -> list[int]:
    values = attributes.get(key) or []
    if not isinstance(values, list):
        raise ConfigError(f"{where}: {key} must be an array")
    return [_int({key: v}, key, where) for v in values]


def _text(attributes: dict, key: str, where: str) -> str:
    value = attributes.get(key) or ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string")
    return value


def _resource(item: dict, kind: str) -> tuple[str, dict]:
    if not isinstance(item, dict):
        raise ConfigError(f"{kind}: a resource must be an object")
    slug = item.get("id")
    attributes = item.get("attributes")
    if not isinstance(slug, str) or not isinstance(attributes, dict):
        raise ConfigError(f"{kind}: a resource needs a string id and attributes")
    return slug, attributes


def parse_route(tenant_id: uuid.UUID, item: dict) -> RouteConfig:
    slug, attrs = _resource(item, "routes")
    where = f"route {slug!r}"
    route = RouteConfig(
        route_id=route_uuid(tenant_id, "routes", slug, attrs),
        slug=slug,
        name=_text(attrs, "name", where),
        start_map_id=_int(attrs, "startMapId", where, default=0),
        staging_map_id=_int(attrs, "stagingMapId", where, default=0),
        en_route_map_ids=_ints(attrs, "enRouteMapIds", where),
        destination_map_id=_int(attrs, "destinationMapId", where, default=0),
        observation_map_id=_int(attrs, "observationMapId", where, default=0),
        boarding_window=60 * _int(attrs, "boardingWindowDuration", where, default=0),
        pre_departure=60 * _int(attrs, "preDepartureDuration", where, default=0),
        travel=60 * _int(attrs, "travelDuration", where, default=0),
        cycle_interval=60 * _int(attrs, "cycleInterval", where, default=0),
    )
    validate_route(route)
    return route


def validate_route(route: RouteConfig) -> None:
    where = f"route {route.slug!r}"
    if not route.name:
        raise ConfigError(f"{where}: name must not be empty")
    if not route.en_route_map_ids:
        raise ConfigError(f"{where}: at least one en-route map is required")
    if route.boarding_window <= 0:
        raise ConfigError(f"{where}: boarding window must be greater than 0")
    if route.pre_departure < 0:
        raise ConfigError(f"{where}: pre-departure must not be negative")
    if route.travel <= 0:
        raise ConfigError(f"{where}: travel duration must be greater than 0")
    if route.cycle_interval <= 0:
        raise ConfigError(f"{where}: cycle interval must be greater than 0")


def parse_vessel(item: dict) -> VesselConfig:
    slug, attrs = _resource(item, "vessels")
    where = f"vessel {slug!r}"
    vessel = VesselConfig(
        slug=slug,
        name=_text(attrs, "name", where),
        route_a=_text(attrs, "routeAID", where),
        route_b=_text(attrs, "routeBID", where),
        turnaround=_int(attrs, "turnaroundDelay", where, default=0),
    )
    validate_vessel(vessel)
    return vessel


def validate_vessel(vessel: VesselConfig) -> None:
    where = f"vessel {vessel.slug!r}"
    if not vessel.route_a:
        raise ConfigError(f"{where}: routeAID must not be empty")
    if not vessel.route_b:
        raise ConfigError(f"{where}: routeBID must not be empty")
    if vessel.turnaround <= 0:
        raise ConfigError(f"{where}: turnaround delay must be greater than 0")


def parse_instance_route(tenant_id: uuid.UUID, item: dict) -> InstanceRouteConfig:
    slug, attrs = _resource(item, "instance-routes")
    where = f"instance route {slug!r}"
    route = InstanceRouteConfig(
        route_id=route_uuid(tenant_id, "instance-routes", slug, attrs),
        slug=slug,
        name=_text(attrs, "name", where),
        start_map_id=_int(attrs, "startMapId", where, default=0),
        transit_map_ids=_ints(attrs, "transitMapIds", where),
        destination_map_id=_int(attrs, "destinationMapId", where, default=0),
        capacity=_int(attrs, "capacity", where, default=0),
        boarding_window=_int(attrs, "boardingWindowSeconds", where, default=0),
        travel=_int(attrs, "travelDurationSeconds", where, default=0),
        transit_message=_text(attrs, "transitMessage", where),
        effect_item_ids=_ints(attrs, "effectItemIds", where),
        forced_return_map_id=_int(attrs, "forcedReturnMapId", where, default=0),
    )
    validate_instance_route(route)
    return route


def validate_instance_route(route: InstanceRouteConfig) -> None:
    where = f"instance route {route.slug!r}"
    if not route.name:
        raise ConfigError(f"{where}: name must not be empty")
    if route.capacity <= 0:
        raise ConfigError(f"{where}: capacity must be greater than 0")
    if route.boarding_window <= 0:
        raise ConfigError(f"{where}: boarding window must be greater than 0")
    if route.travel < 0:
        raise ConfigError(f"{where}: travel duration must not be negative")
    if not route.transit_map_ids:
        raise ConfigError(f"{where}: at least one transit map is required")
    if any(item == 0 for item in route.effect_item_ids):
        raise ConfigError(f"{where}: effect item ids must not be 0")


def parse_scheduled(
    tenant_id: uuid.UUID, route_items: list[dict], vessel_items: list[dict]
) -> ScheduledConfig:
    return ScheduledConfig(
        routes=[parse_route(tenant_id, item) for item in route_items],
        vessels=[parse_vessel(item) for item in vessel_items],
    )


def parse_instance_routes(tenant_id: uuid.UUID, items: list[dict]) -> list[InstanceRouteConfig]:
    return [parse_instance_route(tenant_id, item) for item in items]


# --- the seed shipped with the app ----------------------------------------------------


def seed_items(kind: str, directory: Path = SEED_DIR) -> list[dict]:
    """The resources of ``kind`` (routes, vessels, instance-routes), in file-name order."""
    items = []
    for path in sorted((directory / kind).glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        data = document.get("data")
        items.extend(data if isinstance(data, list) else [data])
    return items
