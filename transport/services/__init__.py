"""Every write of transport, by what it holds:

- ``configuration``: a tenant's routes and vessels, and the admin's edits;
- ``routes``: scheduled routes' transitions;
- ``instances``: instance trips, and a character's LOGOUT and map entry;
- ``channels``: the channel registry;
- ``lease``: the tick's lease.

Plain functions over the database: keyword-only arguments, one
``transaction.atomic()`` each, records buffered with ``bus.emit`` inside it (the
outbox); reads go through ``transport.selectors``. No service talks to Kafka,
Celery or HTTP: lookups of outside services are done by the caller beforehand and
passed in (the tick's plan, a handler's ``prepare``). Time is passed in as ``now``
(read from ``transport.clock``).
"""

from transport.services.channels import channel_register, channel_unregister
from transport.services.configuration import (
    _configured_tenants,
    instance_route_config_delete,
    instance_route_config_save,
    instance_routes_replace,
    route_config_save,
    scheduled_config_delete,
    scheduled_configuration_recompute,
    scheduled_configuration_replace,
    seed_configuration_load,
    tenant_configuration_ensure,
)
from transport.services.instances import (
    Started,
    StartRefused,
    character_logout,
    character_map_enter,
    instance_transport_start,
    instances_arrive,
    instances_expire_boarding,
    instances_shutdown,
    instances_sweep_stuck,
)
from transport.services.lease import (
    TICK_LEASE,
    tenants_refreshed,
    tick_lease_acquire,
    tick_lease_release,
)
from transport.services.routes import Advance, route_advance, routes_advance

__all__ = [
    "TICK_LEASE",
    "Advance",
    "StartRefused",
    "Started",
    "_configured_tenants",
    "channel_register",
    "channel_unregister",
    "character_logout",
    "character_map_enter",
    "instance_route_config_delete",
    "instance_route_config_save",
    "instance_routes_replace",
    "instance_transport_start",
    "instances_arrive",
    "instances_expire_boarding",
    "instances_shutdown",
    "instances_sweep_stuck",
    "route_advance",
    "route_config_save",
    "routes_advance",
    "scheduled_config_delete",
    "scheduled_configuration_recompute",
    "scheduled_configuration_replace",
    "seed_configuration_load",
    "tenant_configuration_ensure",
    "tenants_refreshed",
    "tick_lease_acquire",
    "tick_lease_release",
]
