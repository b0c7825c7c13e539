"""Inbox messages → transport services (§7.2); registered with the messaging registry.

Consumer group ``Transport Service``; five topics. Channel status, character
status and map status are event topics (types transport does not act on are
skipped: LOGIN and CHARACTER_EXIT, no-ops upstream, are not even stored); the
instance-transport command topic takes only START (other types are dead
letters); configuration status acts on the route, vessel and
instance-route event types. The map status topic starts at the latest offset
for a new group, as upstream.

Lookups of outside services happen in ``prepare`` functions, before the inbox
transaction; the handler passes their result to one service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

from project.messaging import errors, registry
from transport import clients, clock, messages, selectors, services

logger = logging.getLogger(__name__)

consumer = registry.consumer("transport", group="Transport Service", produces=messages.PRODUCED)


def _on(kind: str, token: str, type_: str, schema, prepare: Callable | None = None) -> Callable:
    """Register a handler on ``token`` (command or event topic), with ``prepare``
    (lookups) run before the inbox transaction."""
    register = consumer.command if kind == "command" else consumer.event
    return register(token, type_, schema, prepare=prepare)


def _configured(message: registry.Message) -> None:
    """A tenant's first message finds the default (seed) configuration in place."""
    services.tenant_configuration_ensure(
        tenant=message.tenant, now=clock.now(), seed=clients.seed_is_default()
    )


# --- EVENT_TOPIC_CHANNEL_STATUS (§5) ---------------------------------------------------


@_on(
    "event",
    messages.EVENT_TOPIC_CHANNEL_STATUS,
    messages.CHANNEL_STARTED,
    messages.ChannelStatusEvent,
)
def on_channel_started(message: registry.Message) -> None:
    services.channel_register(
        tenant=message.tenant,
        world_id=message.data["worldId"],
        channel_id=message.data["channelId"],
    )


@_on(
    "event",
    messages.EVENT_TOPIC_CHANNEL_STATUS,
    messages.CHANNEL_SHUTDOWN,
    messages.ChannelStatusEvent,
)
def on_channel_shutdown(message: registry.Message) -> None:
    services.channel_unregister(
        tenant=message.tenant,
        world_id=message.data["worldId"],
        channel_id=message.data["channelId"],
    )


# --- EVENT_TOPIC_CHARACTER_STATUS (§4.5, §4.6, §3.8) -------------------------------------


def _logout_portal(message: registry.Message) -> dict | None:
    """The spawn portal for the §3.8 warp, looked up before the transaction."""
    route = selectors.scheduled_route_owning_map(
        tenant=message.tenant, map_id=message.data["body"]["mapId"]
    )
    if route is None:
        return None
    try:
        portal = clients.spawn_portal(tenant=message.tenant, map_id=route.start_map_id)
    except clients.Unavailable as exc:
        logger.warning("spawn portal of map %s unavailable: %s", route.start_map_id, exc)
        portal = 0
    return {"mapId": route.start_map_id, "portalId": portal}


@_on(
    "event",
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_LOGOUT,
    messages.LogoutEvent,
    prepare=_logout_portal,
)
def on_logout(message: registry.Message) -> None:
    _configured(message)
    data, body = message.data, message.data["body"]
    services.character_logout(
        tenant=message.tenant,
        character_id=data["characterId"],
        world_id=data["worldId"],
        channel_id=body["channelId"],
        map_id=body["mapId"],
        start_map_portal=message.prepared,
    )


# --- EVENT_TOPIC_MAP_STATUS (§4.4) -------------------------------------------------------


# Upstream's map status consumer starts at the latest offset for a new group: a
# new group does not replay the whole history of who entered which map.
@consumer.event(
    messages.EVENT_TOPIC_MAP_STATUS,
    messages.MAP_CHARACTER_ENTER,
    messages.MapStatusEvent,
    start="latest",
)
def on_character_enter(message: registry.Message) -> None:
    """CHARACTER_ENTER (§4.4); CHARACTER_EXIT is a no-op upstream and is skipped."""
    _configured(message)
    data = message.data
    services.character_map_enter(
        tenant=message.tenant,
        character_id=data["body"]["characterId"],
        world_id=data["worldId"],
        channel_id=data["channelId"],
        map_id=data["mapId"],
        now=clock.now(),
    )


# --- COMMAND_TOPIC_INSTANCE_TRANSPORT (§4.2) ----------------------------------------------


@_on(
    "command",
    messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
    messages.COMMAND_START,
    messages.StartCommand,
)
def on_start(message: registry.Message) -> None:
    """The Kafka path never reports a refusal (§4.2): ``StartRefused`` carries no
    events, so it is only logged."""
    _configured(message)
    data, body = message.data, message.data["body"]
    errors.answered(services.instance_transport_start)(
        tenant=message.tenant,
        character_id=data["characterId"],
        world_id=data["worldId"],
        channel_id=body["channelId"],
        route_id=body["routeId"],
        now=clock.now(),
    )


# --- EVENT_TOPIC_CONFIGURATION_STATUS (§2.3, §7.2) ------------------------------------------


def _on_configuration(message: registry.Message) -> None:
    """Reload from the tenants service, for the header tenant (the body's is ignored).

    The reload reads HTTP, so it runs as a task after this transaction commits.
    Without a tenants service the configuration lives here (seed, admin): nothing
    to reload.
    """
    resource = message.data["resourceType"]
    scheduled = resource in (messages.RESOURCE_ROUTE, messages.RESOURCE_VESSEL)
    instance = resource == messages.RESOURCE_INSTANCE_ROUTE
    if not (scheduled or instance):
        logger.warning("configuration event for resource type %r ignored", resource)
        return
    if not clients.tenants_service_configured():
        logger.info("configuration event %s: no tenants service configured", message.data["type"])
        return
    from transport.tasks import reload_configuration_task

    tenant_pk = message.tenant.pk
    transaction.on_commit(lambda: reload_configuration_task.delay(tenant_pk, scheduled, instance))


for _type in messages.CONFIGURATION_TYPES:
    _on(
        "event", messages.EVENT_TOPIC_CONFIGURATION_STATUS, _type, messages.ConfigurationStatusEvent
    )(_on_configuration)
