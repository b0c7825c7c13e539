"""Instance routes: trips started, left, finished by the tick's timers or
a shutdown; and what a character's LOGOUT (with's warp) and map entry
mean for them.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from project.messaging import bus
from project.messaging.errors import DomainError
from project.tenancy.models import Tenant
from transport import messages, selectors
from transport.lookups import LookedUp
from transport.models import (
    Instance,
    InstanceCharacter,
    InstanceRoute,
    InstanceState,
)

logger = logging.getLogger(__name__)

NIL_UUID = uuid.UUID(int=0)
# Instances finished per transaction by the tick's timers.
INSTANCE_BATCH = 200


class StartRefused(DomainError):
    """START refused: the character is already travelling, or the route is unknown.

    No events: the Kafka path never reports it, the inbox only logs it; REST
    answers 400 with an empty body."""

    def __init__(self, problem: str, *, character_id: int, route_id: uuid.UUID) -> None:
        super().__init__(
            f"START of character {character_id} on route {route_id} refused: {problem}"
        )


@dataclass(frozen=True)
class Started:
    instance: Instance
    route: InstanceRoute


def instance_transport_start(
    *,
    tenant: Tenant,
    character_id: int,
    world_id: int,
    channel_id: int,
    route_id: uuid.UUID,
    now: dt.datetime,
) -> Started:
    """Create or join an instance of ``route_id`` and board the character.

    The route row is locked, so concurrent STARTs of one route join and create
    instances one at a time: capacity holds (upstream can overfill). The unique
    (tenant, character) constraint keeps a character on one trip; a concurrent
    duplicate fails the insert and is retried by the inbox, then refused.
    Raises ``StartRefused`` (nothing changed, nothing emitted).
    """
    with transaction.atomic():
        if selectors.travelling(tenant=tenant, character_id=character_id):
            raise StartRefused("already in transport", character_id=character_id, route_id=route_id)
        route = (
            InstanceRoute.objects.select_for_update()
            .filter(tenant=tenant, route_id=route_id)
            .first()
        )
        if route is None:
            raise StartRefused("route not found", character_id=character_id, route_id=route_id)
        instance = selectors.boarding_instance(route=route, now=now)
        if instance is None:
            boarding_until = now + dt.timedelta(seconds=route.boarding_window_seconds)
            instance = Instance.objects.create(
                tenant=tenant,
                instance_id=uuid.uuid4(),
                route_id=route_id,
                state=InstanceState.BOARDING,
                boarding_until=boarding_until,
                arrival_at=boarding_until + dt.timedelta(seconds=route.travel_seconds),
                created_at=now,
                stuck_at=now + dt.timedelta(seconds=route.max_lifetime_seconds),
            )
        try:
            with transaction.atomic():
                InstanceCharacter.objects.create(
                    tenant=tenant,
                    instance=instance,
                    character_id=character_id,
                    world_id=world_id,
                    channel_id=channel_id,
                    joined_at=now,
                )
        except IntegrityError:
            raise StartRefused(
                "already in transport", character_id=character_id, route_id=route_id
            ) from None
        _effects(
            tenant,
            route,
            messages.APPLY_CONSUMABLE_EFFECT,
            world_id=world_id,
            channel_id=channel_id,
            character_id=character_id,
        )
        _change_map(
            tenant,
            world_id=world_id,
            character_id=character_id,
            channel_id=channel_id,
            map_id=route.transit_map_ids[0],
            instance=instance.instance_id,
            portal_id=0,
        )
        _instance_event(
            tenant,
            world_id=world_id,
            character_id=character_id,
            event_type=messages.STARTED,
            body=messages.started_body(route_id=route_id, instance_id=instance.instance_id),
        )
    return Started(instance, route)


def _change_map(tenant: Tenant, *, character_id: int, **fields: Any) -> None:
    """Warp the character: the character service's CHANGE_MAP command
    (``messages.change_map``'s fields)."""
    bus.emit(
        tenant=tenant,
        topic=messages.COMMAND_TOPIC_CHARACTER,
        key=messages.character_key(character_id),
        value=messages.change_map(character_id=character_id, **fields),
    )


def _instance_event(tenant: Tenant, *, character_id: int, **fields: Any) -> None:
    """An instance transport event (``messages.instance_event``'s fields)."""
    bus.emit(
        tenant=tenant,
        topic=messages.EVENT_TOPIC_INSTANCE_TRANSPORT,
        key=messages.character_key(character_id),
        value=messages.instance_event(character_id=character_id, **fields),
    )


def _effects(
    tenant: Tenant,
    route: InstanceRoute | None,
    event_type: str,
    *,
    world_id: int,
    channel_id: int,
    character_id: int,
) -> None:
    """Apply or cancel the route's consumable effects on the character (none without
    a route)."""
    if route is None:
        return
    for item_id in route.effect_item_ids:
        bus.emit(
            tenant=tenant,
            topic=messages.COMMAND_TOPIC_CONSUMABLE,
            key=messages.character_key(character_id),
            value=messages.consumable_effect(
                event_type=event_type,
                world_id=world_id,
                channel_id=channel_id,
                character_id=character_id,
                item_id=item_id,
            ),
        )


def _leave_instance(
    *, tenant: Tenant, character_id: int, world_id: int, channel_id: int, reason: str
) -> bool:
    """The character leaves its trip (MAP_EXIT, LOGOUT): CANCEL effects, CANCELLED,
    and the instance is released when it is now empty. False if not travelling."""
    registration = (
        InstanceCharacter.objects.select_for_update()
        .filter(tenant=tenant, character_id=character_id)
        .select_related("instance")
        .first()
    )
    if registration is None:
        return False
    instance = registration.instance
    route = selectors.instance_route_get(tenant=tenant, route_id=instance.route_id)
    if route is None:
        logger.warning("instance %s: its route is gone; no effects to cancel", instance)
    _effects(
        tenant,
        route,
        messages.CANCEL_CONSUMABLE_EFFECT,
        world_id=world_id,
        channel_id=channel_id,
        character_id=character_id,
    )
    registration.delete()
    _instance_event(
        tenant,
        world_id=world_id,
        character_id=character_id,
        event_type=messages.CANCELLED,
        body=messages.cancelled_body(
            route_id=instance.route_id, instance_id=instance.instance_id, reason=reason
        ),
    )
    if not selectors.instance_occupied(instance=instance):
        instance.delete()
    return True


def character_map_enter(
    *,
    tenant: Tenant,
    character_id: int,
    world_id: int,
    channel_id: int,
    map_id: int,
    now: dt.datetime,
) -> None:
    """CHARACTER_ENTER: leaving the trip cancels it; entering a transit map of
    the character's route announces TRANSIT_ENTERED with the remaining seconds."""
    with transaction.atomic():
        is_transit = map_id in selectors.transit_map_ids(tenant=tenant)
        if not is_transit:
            _leave_instance(
                tenant=tenant,
                character_id=character_id,
                world_id=world_id,
                channel_id=channel_id,
                reason=messages.REASON_MAP_EXIT,
            )
            return
        registration = selectors.trip_of(tenant=tenant, character_id=character_id)
        if registration is None:
            return
        instance = registration.instance
        route = selectors.instance_route_get(tenant=tenant, route_id=instance.route_id)
        if route is None:
            return
        if map_id not in route.transit_map_ids:
            logger.warning(
                "character %s entered transit map %s, not one of route %s",
                character_id,
                map_id,
                route.name,
            )
            return
        remaining = max(0.0, (instance.arrival_at - now).total_seconds())
        _instance_event(
            tenant,
            world_id=world_id,
            character_id=character_id,
            event_type=messages.TRANSIT_ENTERED,
            body=messages.transit_entered_body(
                route_id=route.route_id,
                instance_id=instance.instance_id,
                channel_id=channel_id,
                duration_seconds=int(remaining),
                message=route.transit_message,
            ),
        )


def instances_expire_boarding(*, now: dt.datetime) -> int:
    """Boarding windows that closed become in transit; nothing is emitted."""
    with transaction.atomic():
        return Instance.objects.filter(state=InstanceState.BOARDING, boarding_until__lt=now).update(
            state=InstanceState.IN_TRANSIT
        )


def _finish_instance(
    instance: Instance,
    route: InstanceRoute | None,
    *,
    target_map_id: int,
    event: str | None,
    reason: str = "",
) -> None:
    """Warp every character of ``instance`` to ``target_map_id``, emit ``event`` per
    character (None: no event), and release the instance."""
    tenant = instance.tenant
    for character in instance.characters.all():
        _effects(
            tenant,
            route,
            messages.CANCEL_CONSUMABLE_EFFECT,
            world_id=character.world_id,
            channel_id=character.channel_id,
            character_id=character.character_id,
        )
        _change_map(
            tenant,
            world_id=character.world_id,
            character_id=character.character_id,
            channel_id=character.channel_id,
            map_id=target_map_id,
            instance=NIL_UUID,
            portal_id=0,
        )
        if event is not None:
            body = (
                messages.cancelled_body(
                    route_id=instance.route_id, instance_id=instance.instance_id, reason=reason
                )
                if event == messages.CANCELLED
                else messages.completed_body(
                    route_id=instance.route_id, instance_id=instance.instance_id
                )
            )
            _instance_event(
                tenant,
                world_id=character.world_id,
                character_id=character.character_id,
                event_type=event,
                body=body,
            )
    instance.delete()  # its characters go with it (unregistered)


def _due_batch(query) -> list[Instance]:
    return list(
        query.select_for_update(skip_locked=True, of=("self",))
        .select_related("tenant")
        .order_by("id")[:INSTANCE_BATCH]
    )


def instances_arrive(*, now: dt.datetime) -> int:
    """Instances past ``arrivalAt``: COMPLETED at the destination, or
    CANCELLED/TIMEOUT at the forced-return map; a route gone → released silently."""
    finished = 0
    while True:
        with transaction.atomic():
            batch = _due_batch(
                Instance.objects.filter(state=InstanceState.IN_TRANSIT, arrival_at__lt=now)
            )
            for instance in batch:
                route = selectors.instance_route_get(
                    tenant=instance.tenant, route_id=instance.route_id
                )
                if route is None:
                    instance.delete()
                elif route.forced_return_map_id:
                    _finish_instance(
                        instance,
                        route,
                        target_map_id=route.forced_return_map_id,
                        event=messages.CANCELLED,
                        reason=messages.REASON_TIMEOUT,
                    )
                else:
                    _finish_instance(
                        instance,
                        route,
                        target_map_id=route.destination_map_id,
                        event=messages.COMPLETED,
                    )
        finished += len(batch)
        if len(batch) < INSTANCE_BATCH:
            return finished


def instances_sweep_stuck(*, now: dt.datetime) -> int:
    """Instances alive longer than their route's maxLifetime: back to the
    start map with CANCELLED/STUCK."""
    finished = 0
    while True:
        with transaction.atomic():
            batch = _due_batch(Instance.objects.filter(stuck_at__lt=now))
            for instance in batch:
                route = selectors.instance_route_get(
                    tenant=instance.tenant, route_id=instance.route_id
                )
                if route is None:  # removed meanwhile: not "currently configured"
                    instance.stuck_at = None
                    instance.save(update_fields=["stuck_at"])
                    continue
                _finish_instance(
                    instance,
                    route,
                    target_map_id=route.start_map_id,
                    event=messages.CANCELLED,
                    reason=messages.REASON_STUCK,
                )
        finished += len(batch)
        if len(batch) < INSTANCE_BATCH:
            return finished


def instances_shutdown(*, instance_pks: list[int] | None = None) -> int:
    """Graceful shutdown of every live instance (or of ``instance_pks``):
    everyone back to the start map, effects cancelled, no CANCELLED events;
    instances of removed routes are released."""
    count = 0
    with transaction.atomic():
        query = Instance.objects.select_for_update(of=("self",)).select_related("tenant")
        if instance_pks is not None:
            query = query.filter(pk__in=instance_pks)
        for instance in query.order_by("id"):
            route = selectors.instance_route_get(tenant=instance.tenant, route_id=instance.route_id)
            if route is None:
                instance.delete()
            else:
                _finish_instance(instance, route, target_map_id=route.start_map_id, event=None)
            count += 1
    return count


def character_logout(
    *,
    tenant: Tenant,
    character_id: int,
    world_id: int,
    channel_id: int,
    map_id: int,
    looked_up: LookedUp | None = None,
) -> None:
    """LOGOUT: cancel the character's instance trip, then the scheduled-route
    warp back to the start map, as two separate steps of one transaction.

    ``looked_up`` is the spawn portal of the start map of the route owning
    ``map_id``, looked up beforehand; without it (or for another map) portal 0 is used.
    """
    with transaction.atomic():
        _leave_instance(
            tenant=tenant,
            character_id=character_id,
            world_id=world_id,
            channel_id=channel_id,
            reason=messages.REASON_LOGOUT,
        )
        route = selectors.scheduled_route_owning_map(tenant=tenant, map_id=map_id)
        if route is not None:
            portal = 0
            if looked_up is not None and looked_up.map_id == route.start_map_id:
                portal = looked_up.portal_id
            _change_map(
                tenant,
                world_id=world_id,
                character_id=character_id,
                channel_id=channel_id,
                map_id=route.start_map_id,
                instance=NIL_UUID,
                portal_id=portal,
            )
