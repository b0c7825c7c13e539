"""Operators' view of transport: route configuration (editable, validated with the
configuration's invariants), each route's current state, next transition and today's
timetable; live instances with their characters; channels.

Edits of configuration go through services that rebuild the timetable; a refused
edit shows the broken rule and leaves every other route running. Runtime state
(instances, channels, route state) is read-only. The local stand-ins for the maps
and data services are the platform's directory (its own admin).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from project.admin import ReadOnlyAdmin, tenant_column
from transport import clock, config, selectors, services, timetable
from transport.models import (
    Channel,
    Instance,
    InstanceCharacter,
    InstanceRoute,
    Route,
    Vessel,
)


def _tod(us: int) -> str:
    seconds = us // timetable.SECOND
    return f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _map_ids(value: object, label: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= config.U32_MAX for v in value
    ):
        raise forms.ValidationError(f"{label} must be a JSON array of map ids")
    return value


class _ConfigForm(forms.ModelForm):
    """A configuration row's form: the fields are checked as the tenants service's
    configuration is (``config.validate_*``), and a refusal is the form's error."""

    def validate(self, data: dict) -> None:
        raise NotImplementedError

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.validate(data)
        except config.ConfigError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


class RouteForm(_ConfigForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # an empty list is refused by upstream's rule below, with its message
        self.fields["en_route_map_ids"].required = False

    class Meta:
        model = Route
        fields = [
            "tenant",
            "slug",
            "name",
            "start_map_id",
            "staging_map_id",
            "en_route_map_ids",
            "destination_map_id",
            "observation_map_id",
            "boarding_window_seconds",
            "pre_departure_seconds",
            "travel_seconds",
            "cycle_interval_seconds",
        ]

    def validate(self, data: dict) -> None:
        maps = _map_ids(data.get("en_route_map_ids"), "en-route maps")
        config.validate_route(
            config.RouteConfig(
                route_id=uuid.uuid4(),
                slug=data["slug"],
                name=data["name"],
                start_map_id=data["start_map_id"],
                staging_map_id=data["staging_map_id"],
                en_route_map_ids=maps,
                destination_map_id=data["destination_map_id"],
                observation_map_id=data["observation_map_id"],
                boarding_window=data["boarding_window_seconds"],
                pre_departure=data["pre_departure_seconds"],
                travel=data["travel_seconds"],
                cycle_interval=data["cycle_interval_seconds"],
            )
        )


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    form = RouteForm
    list_display = (
        "name",
        tenant_column,
        "current_state",
        "next_transition",
        "trips",
        "start_map_id",
    )
    list_filter = ("tenant", "state")
    search_fields = ("name", "slug")
    list_select_related = ("tenant",)
    readonly_fields = (
        "route_id",
        "state",
        "state_changed_at",
        "next_boundary_at",
        "schedule_date",
        "timetable",
    )

    # One state column: the state at this instant (what REST answers). The stored one
    # (the tick's last) is on the detail page; shown side by side it read as a duplicate.
    @admin.display(description="state")
    def current_state(self, obj: Route) -> str:
        return selectors.evaluation(obj, clock.now()).state

    @admin.display(description="next transition")
    def next_transition(self, obj: Route) -> str:
        ev = selectors.evaluation(obj, clock.now())
        return f"{ev.next_state} at {ev.next_at:%H:%M:%S}" if ev.next_at else "—"

    @admin.display(description="trips/day")
    def trips(self, obj: Route) -> int:
        return len(obj.schedule)

    @admin.display(description="today's timetable")
    def timetable(self, obj: Route) -> str:
        rows = [timetable.Trip.from_row(r) for r in obj.schedule]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (n + 1, _tod(t.open), _tod(t.closed), _tod(t.departure), _tod(t.arrival))
                for n, t in enumerate(rows)
            ),
        )
        return format_html(
            "<table><tr><th>#</th><th>open</th><th>closed</th><th>departure</th>"
            "<th>arrival</th></tr>{}</table>",
            body,
        )

    def save_model(self, request, obj: Route, form, change: bool) -> None:
        if not change:
            obj.route_id = uuid.uuid5(obj.tenant.uuid, f"routes/{obj.slug}")
        services.route_config_save(route=obj, now=clock.now())

    def delete_model(self, request, obj: Route) -> None:
        services.scheduled_config_delete(row=obj, now=clock.now())


class VesselForm(_ConfigForm):
    class Meta:
        model = Vessel
        fields = ["tenant", "slug", "name", "route_a_name", "route_b_name", "turnaround_seconds"]

    def validate(self, data: dict) -> None:
        config.validate_vessel(
            config.VesselConfig(
                data["slug"],
                data["name"],
                data["route_a_name"],
                data["route_b_name"],
                data["turnaround_seconds"],
            )
        )


@admin.register(Vessel)
class VesselAdmin(admin.ModelAdmin):
    form = VesselForm
    list_display = ("name", tenant_column, "route_a_name", "route_b_name", "turnaround_seconds")
    list_filter = ("tenant",)

    def save_model(self, request, obj: Vessel, form, change: bool) -> None:
        services.vessel_config_save(vessel=obj, now=clock.now())

    def delete_model(self, request, obj: Vessel) -> None:
        services.scheduled_config_delete(row=obj, now=clock.now())


class InstanceRouteForm(_ConfigForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["transit_map_ids"].required = False
        self.fields["effect_item_ids"].required = False

    class Meta:
        model = InstanceRoute
        fields = [
            "tenant",
            "slug",
            "name",
            "start_map_id",
            "transit_map_ids",
            "destination_map_id",
            "capacity",
            "boarding_window_seconds",
            "travel_seconds",
            "transit_message",
            "effect_item_ids",
            "forced_return_map_id",
        ]

    def validate(self, data: dict) -> None:
        config.validate_instance_route(
            config.InstanceRouteConfig(
                route_id=uuid.uuid4(),
                slug=data["slug"],
                name=data["name"],
                start_map_id=data["start_map_id"],
                transit_map_ids=_map_ids(data.get("transit_map_ids"), "transit maps"),
                destination_map_id=data["destination_map_id"],
                capacity=data["capacity"],
                boarding_window=data["boarding_window_seconds"],
                travel=data["travel_seconds"],
                transit_message=data.get("transit_message") or "",
                effect_item_ids=_map_ids(data.get("effect_item_ids") or [], "effect items"),
                forced_return_map_id=data.get("forced_return_map_id") or 0,
            )
        )


@admin.register(InstanceRoute)
class InstanceRouteAdmin(admin.ModelAdmin):
    form = InstanceRouteForm
    list_display = (
        "name",
        tenant_column,
        "start_map_id",
        "destination_map_id",
        "capacity",
        "boarding_window_seconds",
        "travel_seconds",
    )
    list_filter = ("tenant",)
    readonly_fields = ("route_id",)

    def save_model(self, request, obj: InstanceRoute, form, change: bool) -> None:
        if not change:
            obj.route_id = uuid.uuid5(obj.tenant.uuid, f"instance-routes/{obj.slug}")
        services.instance_route_config_save(route=obj)

    def delete_model(self, request, obj: InstanceRoute) -> None:
        services.instance_route_config_delete(route=obj)


class InstanceCharacterInline(admin.TabularInline):
    model = InstanceCharacter
    fields = ("character_id", "world_id", "channel_id", "joined_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = (
        "instance_id",
        tenant_column,
        "route_name",
        "state",
        "characters_on_board",
        "boarding_until",
        "arrival_at",
        "created_at",
    )
    list_filter = ("tenant", "state")
    readonly_fields = (
        "instance_id",
        "tenant",
        "route_id",
        "state",
        "boarding_until",
        "arrival_at",
        "created_at",
        "stuck_at",
    )
    inlines = [InstanceCharacterInline]
    actions = ["shut_down"]

    @admin.display(description="route")
    def route_name(self, obj: Instance) -> str:
        route = selectors.instance_route_get(tenant=obj.tenant, route_id=obj.route_id)
        return route.name if route else f"(gone) {obj.route_id}"

    @admin.display(description="characters")
    def characters_on_board(self, obj: Instance) -> str:
        return ", ".join(str(c.character_id) for c in obj.characters.all())

    @admin.action(description="Shut down: warp everyone back to the start map")
    def shut_down(self, request, queryset) -> None:
        count = services.instances_shutdown(instance_pks=[i.pk for i in queryset])
        self.message_user(request, f"released {count} instance(s)")


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = (tenant_column, "world_id", "channel_id")
    list_filter = ("tenant",)
