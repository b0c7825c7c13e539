"""Inbox messages → transport services; registered with the messaging registry.

Consumer group ``Transport Service``; five topics. Channel status, character
status and map status are event topics (types transport does not act on are
skipped: LOGIN and CHARACTER_EXIT, no-ops upstream, are not even stored); the
instance-transport command topic takes only START (other types are dead
letters); configuration status acts on the route, vessel and
instance-route event types. The map status topic starts at the latest offset
for a new group, as upstream.

Each type is bound declaratively to one service, called with the message's
fields; lookups of outside services happen in ``prepare`` functions, before the
inbox transaction, and reach the service as an argument.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from project.messaging import errors, registry
from project.tenancy.models import Tenant
from transport import clock, lookups, messages, services

logger = logging.getLogger(__name__)

consumer = registry.consumer("transport", group="Transport Service", produces=messages.PRODUCED)


def configured(service: Callable[..., Any]) -> Callable[..., Any]:
    """``service``, after the tenant's first message found the default (seed)
    configuration in place."""

    @functools.wraps(service)
    def call(*, tenant: Tenant, **kwargs: Any) -> Any:
        services.tenant_configuration_ensure(
            tenant=tenant, now=clock.now(), seed=lookups.seed_is_default()
        )
        return service(tenant=tenant, **kwargs)

    return call


# The services that take the time are given the clock's.
NOW = {"now": lambda message: clock.now()}


# --- EVENT_TOPIC_CHANNEL_STATUS ---------------------------------------------------

for _type, _service in [
    (messages.CHANNEL_STARTED, services.channel_register),
    (messages.CHANNEL_SHUTDOWN, services.channel_unregister),
]:
    consumer.event(
        messages.EVENT_TOPIC_CHANNEL_STATUS, _type, messages.ChannelStatusEvent, service=_service
    )


# --- EVENT_TOPIC_CHARACTER_STATUS -------------------------------------


consumer.event(
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_LOGOUT,
    messages.LogoutEvent,
    prepare=lookups.logout_portal,
    service=configured(services.character_logout),
    extra={"looked_up": lookups.looked_up},
)


# --- EVENT_TOPIC_MAP_STATUS -------------------------------------------------------

# CHARACTER_EXIT is a no-op upstream and is skipped. Upstream's map status consumer
# starts at the latest offset for a new group: a new group does not replay the whole
# history of who entered which map.
consumer.event(
    messages.EVENT_TOPIC_MAP_STATUS,
    messages.MAP_CHARACTER_ENTER,
    messages.MapStatusEvent,
    start="latest",
    service=configured(services.character_map_enter),
    extra=NOW,
)


# --- COMMAND_TOPIC_INSTANCE_TRANSPORT ----------------------------------------------

# The Kafka path never reports a refusal: ``StartRefused`` carries no events,
# so it is only logged.
consumer.command(
    messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
    messages.COMMAND_START,
    messages.StartCommand,
    service=errors.answered(configured(services.instance_transport_start)),
    extra=NOW,
)


# --- EVENT_TOPIC_CONFIGURATION_STATUS ------------------------------------------


def configuration_changed(*, tenant: Tenant, resource_type: str) -> None:
    """Reload from the tenants service, for the header tenant (the body's is ignored).

    The reload reads HTTP, so it runs as a task after this transaction commits.
    Without a tenants service the configuration lives here (seed, admin): nothing
    to reload.
    """
    scheduled = resource_type in (messages.RESOURCE_ROUTE, messages.RESOURCE_VESSEL)
    instance = resource_type == messages.RESOURCE_INSTANCE_ROUTE
    if not (scheduled or instance):
        logger.warning("configuration event for resource type %r ignored", resource_type)
        return
    if not lookups.tenants_service_configured():
        logger.info("configuration event of %s: no tenants service configured", resource_type)
        return
    from transport.tasks import reload_configuration_task

    tenant_pk = tenant.pk
    transaction.on_commit(lambda: reload_configuration_task.delay(tenant_pk, scheduled, instance))


for _type in messages.CONFIGURATION_TYPES:
    consumer.event(
        messages.EVENT_TOPIC_CONFIGURATION_STATUS,
        _type,
        messages.ConfigurationStatusEvent,
        service=configuration_changed,
    )
