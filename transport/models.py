"""Transport state, always scoped by tenant.

Configuration (``Route``, ``Vessel``, ``InstanceRoute``) is per tenant and is
replaced as a whole by a load (seed, tenants service or admin). Runtime state:

- ``Route.state`` / ``next_boundary_at``: the scheduled route's stored state and
  the first timetable boundary not yet processed. The tick handles a route only
  when ``next_boundary_at <= now``, and moves the marker in the same transaction
  as the outbox rows of that transition, so a boundary is processed exactly once
  whatever restarts, stopped beats or overlapping ticks happen.
- ``Instance`` / ``InstanceCharacter``: live instance trips; the unique
  (tenant, character) constraint is the "character is in transport" index.
- ``Channel``: the registered channels of a tenant.

Who is in a map and a map's portals come from ``project.directory`` (the outside
services, or the platform's local directory).
"""

from __future__ import annotations

from django.db import models

from project.tenancy.models import Tenant


class RouteState(models.TextChoices):
    OUT_OF_SERVICE = "out_of_service"
    AWAITING_RETURN = "awaiting_return"
    OPEN_ENTRY = "open_entry"
    LOCKED_ENTRY = "locked_entry"
    IN_TRANSIT = "in_transit"


class Route(models.Model):
    """A scheduled route; durations are stored in seconds (the config gives minutes)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    route_id = models.UUIDField()
    position = models.PositiveIntegerField(help_text="configuration order")
    slug = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    start_map_id = models.PositiveBigIntegerField()
    staging_map_id = models.PositiveBigIntegerField()
    en_route_map_ids = models.JSONField(default=list)
    destination_map_id = models.PositiveBigIntegerField()
    observation_map_id = models.PositiveBigIntegerField()
    boarding_window_seconds = models.PositiveIntegerField()
    pre_departure_seconds = models.PositiveIntegerField()
    travel_seconds = models.PositiveIntegerField()
    cycle_interval_seconds = models.PositiveIntegerField()
    # [[tripId, open, closed, departure, arrival], …] with times of day in
    # microseconds, computed for ``schedule_date`` (only the time of day matters).
    schedule = models.JSONField(default=list, blank=True)
    schedule_date = models.DateField(null=True, blank=True)
    state = models.CharField(
        max_length=16, choices=RouteState.choices, default=RouteState.OUT_OF_SERVICE
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)
    next_boundary_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every reload: a tick that planned against the previous timetable
    # finds its compare-and-set refused.
    version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "route_id"], name="transport_route_id"),
        ]
        indexes = [models.Index(fields=["next_boundary_at"], name="transport_route_due")]
        ordering = ["tenant", "position"]

    def __str__(self) -> str:
        return self.name


class Vessel(models.Model):
    """A pair of routes sharing one ship; routes are referenced by name."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    position = models.PositiveIntegerField()
    slug = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    route_a_name = models.CharField(max_length=128)
    route_b_name = models.CharField(max_length=128)
    turnaround_seconds = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="transport_vessel_slug"),
        ]
        ordering = ["tenant", "position"]

    def __str__(self) -> str:
        return self.name


class InstanceRoute(models.Model):
    """An on-demand route; durations in seconds."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    route_id = models.UUIDField()
    position = models.PositiveIntegerField()
    slug = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    start_map_id = models.PositiveBigIntegerField()
    transit_map_ids = models.JSONField(default=list)
    destination_map_id = models.PositiveBigIntegerField()
    capacity = models.PositiveIntegerField()
    boarding_window_seconds = models.PositiveIntegerField()
    travel_seconds = models.PositiveIntegerField()
    transit_message = models.TextField(blank=True, default="")
    effect_item_ids = models.JSONField(default=list, blank=True)
    forced_return_map_id = models.PositiveBigIntegerField(default=0, help_text="0 = not set")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "route_id"], name="transport_instance_route_id"
            ),
        ]
        ordering = ["tenant", "position"]

    def __str__(self) -> str:
        return self.name

    @property
    def max_lifetime_seconds(self) -> int:
        """Upstream ``maxLifetime = 2 * (boardingWindow + travelDuration)``."""
        return 2 * (self.boarding_window_seconds + self.travel_seconds)


class TenantConfiguration(models.Model):
    """That a tenant's configuration was loaded (and from where): new tenants get the seed."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.PROTECT, related_name="transport_configuration"
    )
    source = models.CharField(max_length=32)
    loaded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.tenant} ({self.source})"


class InstanceState(models.TextChoices):
    BOARDING = "boarding"
    IN_TRANSIT = "in_transit"


class Instance(models.Model):
    """A live instance trip of an instance route.

    ``route_id`` is not a foreign key: a reload may remove the route while the
    instance lives (arrival then releases it silently). ``stuck_at`` is
    ``created_at + maxLifetime`` of the *current* route configuration (kept up to
    date on reload; null when the route is gone), so the stuck sweep is one query.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    instance_id = models.UUIDField()
    route_id = models.UUIDField()
    state = models.CharField(
        max_length=16, choices=InstanceState.choices, default=InstanceState.BOARDING
    )
    boarding_until = models.DateTimeField()
    arrival_at = models.DateTimeField()
    created_at = models.DateTimeField()
    stuck_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "instance_id"], name="transport_instance_id"),
        ]
        indexes = [
            models.Index(fields=["tenant", "route_id", "created_at"], name="transport_inst_route"),
            models.Index(fields=["state", "boarding_until"], name="transport_inst_boarding"),
            models.Index(fields=["state", "arrival_at"], name="transport_inst_arrival"),
            models.Index(fields=["stuck_at"], name="transport_inst_stuck"),
        ]

    def __str__(self) -> str:
        return str(self.instance_id)


class InstanceCharacter(models.Model):
    """A character on an instance trip, with the world and channel captured at boarding."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="characters")
    character_id = models.PositiveBigIntegerField()
    world_id = models.PositiveSmallIntegerField()
    channel_id = models.PositiveSmallIntegerField()
    joined_at = models.DateTimeField()

    class Meta:
        constraints = [
            # One instance per character: concurrent STARTs cannot both register.
            models.UniqueConstraint(
                fields=["tenant", "character_id"], name="transport_one_trip_per_character"
            ),
        ]
        ordering = ["joined_at", "id"]

    def __str__(self) -> str:
        return f"character {self.character_id}"


class Channel(models.Model):
    """A registered channel (``EVENT_TOPIC_CHANNEL_STATUS``)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    world_id = models.PositiveSmallIntegerField()
    channel_id = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "world_id", "channel_id"], name="transport_channel_per_world"
            ),
        ]
        ordering = ["tenant", "world_id", "channel_id"]

    def __str__(self) -> str:
        return f"{self.world_id}:{self.channel_id}"


class TickLease(models.Model):
    """One row per named lease: who runs the tick and until when (exactly one tick at a time)."""

    name = models.CharField(max_length=32, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    tenants_refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
