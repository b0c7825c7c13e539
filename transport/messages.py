"""The transport wire: topic tokens, type names, consumed schemas, produced records.

The only module that knows transport's JSON. Consumed messages are decoded with
Go's rules by ``GoSchema``; produced dicts are built in upstream struct field
order, and their keys here too.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid

from project.contracts import character_status
from project.messaging import wire
from project.messaging.produced import KEY_TEXT, KEY_U32, Produced, with_body
from project.messaging.schemas import U8, U32, UUID, GoSchema, Int, List, Object, Str, Time

NIL_UUID = uuid.UUID(int=0)

# --- topic tokens ---------------------------------------------------------------------

EVENT_TOPIC_CHANNEL_STATUS = "EVENT_TOPIC_CHANNEL_STATUS"
EVENT_TOPIC_CHARACTER_STATUS = character_status.EVENT_TOPIC_CHARACTER_STATUS
EVENT_TOPIC_MAP_STATUS = "EVENT_TOPIC_MAP_STATUS"
EVENT_TOPIC_CONFIGURATION_STATUS = "EVENT_TOPIC_CONFIGURATION_STATUS"
COMMAND_TOPIC_INSTANCE_TRANSPORT = "COMMAND_TOPIC_INSTANCE_TRANSPORT"
EVENT_TOPIC_TRANSPORT_STATUS = "EVENT_TOPIC_TRANSPORT_STATUS"
EVENT_TOPIC_INSTANCE_TRANSPORT = "EVENT_TOPIC_INSTANCE_TRANSPORT"
COMMAND_TOPIC_CHARACTER = "COMMAND_TOPIC_CHARACTER"
COMMAND_TOPIC_CONSUMABLE = "COMMAND_TOPIC_CONSUMABLE"

PRODUCED = (
    EVENT_TOPIC_TRANSPORT_STATUS,
    EVENT_TOPIC_INSTANCE_TRANSPORT,
    COMMAND_TOPIC_CHARACTER,
    COMMAND_TOPIC_CONSUMABLE,
)

# --- type names -----------------------------------------------------------------------

CHANNEL_STARTED = "STARTED"
CHANNEL_SHUTDOWN = "SHUTDOWN"
CHARACTER_LOGIN = character_status.LOGIN
CHARACTER_LOGOUT = character_status.LOGOUT
CHARACTER_MAP_CHANGED = character_status.MAP_CHANGED
CHARACTER_CHANNEL_CHANGED = character_status.CHANNEL_CHANGED
MAP_CHARACTER_ENTER = "CHARACTER_ENTER"
MAP_CHARACTER_EXIT = "CHARACTER_EXIT"
COMMAND_START = "START"

# atlas-tenants' configuration event types of the three resources transport reads.
CONFIGURATION_TYPES = tuple(
    f"{resource}_{change}"
    for resource in ("ROUTE", "VESSEL", "INSTANCE_ROUTE")
    for change in ("CREATED", "UPDATED", "DELETED")
)
RESOURCE_ROUTE = "route"
RESOURCE_VESSEL = "vessel"
RESOURCE_INSTANCE_ROUTE = "instance-route"

ARRIVED = "ARRIVED"
DEPARTED = "DEPARTED"
VOYAGE_DEPARTED = "VOYAGE_DEPARTED"
VOYAGE_ARRIVED = "VOYAGE_ARRIVED"
STARTED = "STARTED"
TRANSIT_ENTERED = "TRANSIT_ENTERED"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
CHANGE_MAP = "CHANGE_MAP"
APPLY_CONSUMABLE_EFFECT = "APPLY_CONSUMABLE_EFFECT"
CANCEL_CONSUMABLE_EFFECT = "CANCEL_CONSUMABLE_EFFECT"

REASON_MAP_EXIT = "MAP_EXIT"
REASON_LOGOUT = "LOGOUT"
REASON_STUCK = "STUCK"
REASON_TIMEOUT = "TIMEOUT"

# --- consumed -------------------------------------------------------------------------


class ChannelStatusEvent(GoSchema):
    """``{"type","worldId","channelId","ipAddress","port"}``; address and port unused."""

    type = Str()
    worldId = U8()
    channelId = U8()
    ipAddress = Str()
    port = Int(64, signed=True)


LoginEvent = character_status.LoginEvent
LogoutEvent = character_status.LogoutEvent
MapChangedEvent = character_status.MapChangedEvent
ChannelChangedEvent = character_status.ChannelChangedEvent


class CharacterBody(GoSchema):
    characterId = U32()


class MapStatusEvent(GoSchema):
    transactionId = UUID()
    worldId = U8()
    channelId = U8()
    mapId = U32()
    instance = UUID()
    type = Str()
    body = Object(CharacterBody)


class StartBody(GoSchema):
    routeId = UUID()
    channelId = U8()


class StartCommand(GoSchema):
    transactionId = UUID()
    worldId = U8()
    characterId = U32()
    type = Str()
    body = Object(StartBody)


class ConfigurationStatusEvent(GoSchema):
    tenantId = UUID()
    type = Str()
    resourceType = Str()
    resourceId = Str()


# --- produced -------------------------------------------------------------------------


def character_key(character_id: int) -> bytes:
    return wire.key_u32(character_id)


def route_status(*, route_id: uuid.UUID, event_type: str, map_id: int) -> dict:
    """ARRIVED / DEPARTED (key: the route id text)."""
    return {"routeId": str(route_id), "type": event_type, "body": {"mapId": map_id}}


def voyage_status(
    *,
    route_id: uuid.UUID,
    event_type: str,
    voyage_id: uuid.UUID,
    world_id: int,
    channel_id: int,
    staging_map_id: int,
    en_route_map_ids: list[int],
    destination_map_id: int,
    observation_map_id: int,
    departed_at: dt.datetime,
) -> dict:
    """VOYAGE_DEPARTED / VOYAGE_ARRIVED (key: the voyage id text)."""
    return {
        "routeId": str(route_id),
        "type": event_type,
        "body": {
            "voyageId": str(voyage_id),
            "worldId": world_id,
            "channelId": channel_id,
            "stagingMapId": staging_map_id,
            "enRouteMapIds": list(en_route_map_ids),
            "destinationMapId": destination_map_id,
            "observationMapId": observation_map_id,
            "departedAt": wire.go_time(departed_at),
        },
    }


def change_map(
    *,
    world_id: int,
    character_id: int,
    channel_id: int,
    map_id: int,
    instance: uuid.UUID,
    portal_id: int,
) -> dict:
    """CHANGE_MAP on COMMAND_TOPIC_CHARACTER: no transactionId (upstream struct)."""
    return {
        "worldId": world_id,
        "characterId": character_id,
        "type": CHANGE_MAP,
        "body": {
            "channelId": channel_id,
            "mapId": map_id,
            "instance": str(instance),
            "portalId": portal_id,
        },
    }


def instance_event(*, world_id: int, character_id: int, event_type: str, body: dict) -> dict:
    """EVENT_TOPIC_INSTANCE_TRANSPORT envelope; transactionId is always nil."""
    return {
        "transactionId": str(NIL_UUID),
        "worldId": world_id,
        "characterId": character_id,
        "type": event_type,
        "body": body,
    }


def started_body(*, route_id: uuid.UUID, instance_id: uuid.UUID) -> dict:
    return {"routeId": str(route_id), "instanceId": str(instance_id)}


completed_body = started_body


def cancelled_body(*, route_id: uuid.UUID, instance_id: uuid.UUID, reason: str) -> dict:
    return {"routeId": str(route_id), "instanceId": str(instance_id), "reason": reason}


def transit_entered_body(
    *,
    route_id: uuid.UUID,
    instance_id: uuid.UUID,
    channel_id: int,
    duration_seconds: int,
    message: str,
) -> dict:
    return {
        "routeId": str(route_id),
        "instanceId": str(instance_id),
        "channelId": channel_id,
        "durationSeconds": duration_seconds,
        "message": message,
    }


def consumable_effect(
    *, event_type: str, world_id: int, channel_id: int, character_id: int, item_id: int
) -> dict:
    """APPLY/CANCEL_CONSUMABLE_EFFECT: nil transaction, map 0 and nil instance on purpose."""
    return {
        "transactionId": str(NIL_UUID),
        "worldId": world_id,
        "channelId": channel_id,
        "mapId": 0,
        "instance": str(NIL_UUID),
        "characterId": character_id,
        "type": event_type,
        "body": {"itemId": item_id},
    }


# --- what this app publishes, for the AsyncAPI document (docs/asyncapi.yaml) ----------


class RouteStatusBody(GoSchema):
    mapId = U32()


class VoyageBody(GoSchema):
    voyageId = UUID()
    worldId = U8()
    channelId = U8()
    stagingMapId = U32()
    enRouteMapIds = List(U32())
    destinationMapId = U32()
    observationMapId = U32()
    departedAt = Time()


class RouteStatusEvent(GoSchema):
    """ARRIVED / DEPARTED, keyed by the route id's text."""

    routeId = UUID()
    type = Str()
    body = Object(RouteStatusBody)


class VoyageStatusEvent(GoSchema):
    """VOYAGE_DEPARTED / VOYAGE_ARRIVED, keyed by the voyage id's text."""

    routeId = UUID()
    type = Str()
    body = Object(VoyageBody)


class InstanceBody(GoSchema):
    """STARTED and COMPLETED."""

    routeId = UUID()
    instanceId = UUID()


class CancelledBody(GoSchema):
    routeId = UUID()
    instanceId = UUID()
    reason = Str()


class TransitEnteredBody(GoSchema):
    routeId = UUID()
    instanceId = UUID()
    channelId = U8()
    durationSeconds = U32()
    message = Str()


class _InstanceEvent(GoSchema):
    transactionId = UUID(metadata={"description": "always the nil UUID"})
    worldId = U8()
    characterId = U32()
    type = Str()


_instance_event = functools.partial(with_body, _InstanceEvent, suffix="Event")


class ChangeMapBody(GoSchema):
    channelId = U8()
    mapId = U32()
    instance = UUID()
    portalId = U32()


class ChangeMapCommand(GoSchema):
    """No ``transactionId`` (upstream's struct)."""

    worldId = U8()
    characterId = U32()
    type = Str()
    body = Object(ChangeMapBody)


class ItemBody(GoSchema):
    itemId = U32()


class ConsumableEffectCommand(GoSchema):
    """Nil transaction, map 0 and nil instance, on purpose."""

    transactionId = UUID()
    worldId = U8()
    channelId = U8()
    mapId = U32()
    instance = UUID()
    characterId = U32()
    type = Str()
    body = Object(ItemBody)


PRODUCED_MESSAGES = [
    Produced(
        EVENT_TOPIC_TRANSPORT_STATUS,
        f"{KEY_TEXT}: the route id (ARRIVED, DEPARTED) or the voyage id (VOYAGE_*)",
        {
            ARRIVED: RouteStatusEvent,
            DEPARTED: RouteStatusEvent,
            VOYAGE_DEPARTED: VoyageStatusEvent,
            VOYAGE_ARRIVED: VoyageStatusEvent,
        },
    ),
    Produced(
        EVENT_TOPIC_INSTANCE_TRANSPORT,
        f"{KEY_U32}; the character id",
        {
            STARTED: _instance_event(InstanceBody),
            TRANSIT_ENTERED: _instance_event(TransitEnteredBody),
            COMPLETED: _instance_event(InstanceBody),
            CANCELLED: _instance_event(CancelledBody),
        },
    ),
    Produced(
        COMMAND_TOPIC_CHARACTER, f"{KEY_U32}; the character id", {CHANGE_MAP: ChangeMapCommand}
    ),
    Produced(
        COMMAND_TOPIC_CONSUMABLE,
        f"{KEY_U32}; the character id",
        {
            APPLY_CONSUMABLE_EFFECT: ConsumableEffectCommand,
            CANCEL_CONSUMABLE_EFFECT: ConsumableEffectCommand,
        },
    ),
]
