"""Route configuration: validation, the seed command, the tenants service over a
real HTTP stand-in, reloads on configuration events, and the admin."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command

from project.tenancy.rows import tenant_row
from tests.support import new_tenant
from tests.transport.support import TENANT_UUID, at, deliver
from transport import config, messages, services, tasks, tick
from transport.models import InstanceRoute, Route, RouteState, TenantConfiguration, Vessel

pytestmark = pytest.mark.django_db

NOW = at("2026-08-06T00:20:00")


def route_item(slug: str, **attributes) -> dict:
    base = {
        "name": slug,
        "startMapId": 1,
        "stagingMapId": 2,
        "enRouteMapIds": [3],
        "destinationMapId": 4,
        "observationMapId": 1,
        "boardingWindowDuration": 4,
        "preDepartureDuration": 1,
        "travelDuration": 10,
        "cycleInterval": 15,
    }
    return {"id": slug, "type": "routes", "attributes": {**base, **attributes}}


def instance_item(slug: str, **attributes) -> dict:
    base = {
        "name": slug,
        "startMapId": 1,
        "transitMapIds": [2],
        "destinationMapId": 3,
        "capacity": 1,
        "boardingWindowSeconds": 1,
        "travelDurationSeconds": 10,
    }
    return {"id": slug, "type": "instance-routes", "attributes": {**base, **attributes}}


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"name": ""}, "name must not be empty"),
        ({"enRouteMapIds": []}, "at least one en-route map"),
        ({"boardingWindowDuration": 0}, "boarding window must be greater than 0"),
        ({"travelDuration": 0}, "travel duration must be greater than 0"),
        ({"cycleInterval": 0}, "cycle interval must be greater than 0"),
        ({"startMapId": -1}, "out of range"),
        ({"startMapId": "1"}, "must be an integer"),
    ],
)
def test_a_bad_route_is_refused_with_a_clear_message(attributes, message):
    with pytest.raises(config.ConfigError, match=message):
        config.parse_route(TENANT_UUID, route_item("r", **attributes))


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"capacity": 0}, "capacity"),
        ({"transitMapIds": []}, "transit map"),
        ({"effectItemIds": [0]}, "effect item ids"),
        ({"boardingWindowSeconds": 0}, "boarding window"),
    ],
)
def test_a_bad_instance_route_is_refused(attributes, message):
    with pytest.raises(config.ConfigError, match=message):
        config.parse_instance_route(TENANT_UUID, instance_item("i", **attributes))


def test_instance_route_travel_may_be_zero_and_optional_fields_default():
    route = config.parse_instance_route(TENANT_UUID, instance_item("i", travelDurationSeconds=0))
    assert (
        route.travel,
        route.effect_item_ids,
        route.forced_return_map_id,
        route.transit_message,
    ) == (0, [], 0, "")


def test_a_bad_vessel_is_refused():
    with pytest.raises(config.ConfigError, match="turnaround"):
        config.parse_vessel(
            {"id": "v", "attributes": {"routeAID": "a", "routeBID": "b", "turnaroundDelay": 0}}
        )


def test_the_uuid_attribute_wins_over_the_derived_id():
    explicit = uuid.uuid4()
    assert config.parse_route(TENANT_UUID, route_item("r", uuid=str(explicit))).route_id == explicit
    assert config.parse_route(TENANT_UUID, route_item("r", uuid="nope")).route_id == uuid.uuid5(
        TENANT_UUID, "routes/r"
    )


def test_the_seed_command_loads_a_tenant():
    call_command("transport_load_seed", str(TENANT_UUID), "--region", "GMS")
    tenant = new_tenant_row()
    assert Route.objects.filter(tenant=tenant).count() == 12
    assert Vessel.objects.filter(tenant=tenant).count() == 6
    assert InstanceRoute.objects.filter(tenant=tenant).count() == 12
    assert set(Route.objects.filter(tenant=tenant).values_list("state", flat=True)) == {
        RouteState.OUT_OF_SERVICE
    }  # until the first tick evaluates them


def new_tenant_row():
    from project.tenancy import TenantKey

    return tenant_row(TenantKey(TENANT_UUID, "GMS", 83, 1))


# --- the tenants service --------------------------------------------------------------


def serve_configuration(fake, key, routes, vessels, instance_routes):
    base = f"tenants/{key.id}/configurations"
    fake.put(f"{base}/routes", {"data": routes}, tenant=key)
    fake.put(f"{base}/vessels", {"data": vessels}, tenant=key)
    fake.put(f"{base}/instance-routes", {"data": instance_routes}, tenant=key)


def test_configuration_is_read_from_the_tenants_service(fake_services):
    tenant = new_tenant()
    key = tenant.key
    serve_configuration(
        fake_services,
        key,
        [route_item("a"), route_item("b")],
        [
            {
                "id": "v",
                "type": "vessels",
                "attributes": {"name": "v", "routeAID": "a", "routeBID": "b", "turnaroundDelay": 5},
            }
        ],
        [instance_item("i")],
    )
    assert tick.reload_from_tenants_service(tenant=tenant, now=NOW)
    assert list(Route.objects.filter(tenant=tenant).values_list("slug", flat=True)) == ["a", "b"]
    assert InstanceRoute.objects.get(tenant=tenant).route_id == uuid.uuid5(
        key.id, "instance-routes/i"
    )
    (seen,) = fake_services.requests_to(f"tenants/{key.id}/configurations/routes")
    assert seen.headers["TENANT_ID"] == str(key.id)
    assert (seen.headers["MAJOR_VERSION"], seen.headers["MINOR_VERSION"]) == ("83", "1")
    assert seen.query["page[size]"] == ["250"]
    assert TenantConfiguration.objects.get(tenant=tenant).source == "tenants"


def test_a_failed_load_leaves_the_running_configuration(fake_services):
    tenant = new_tenant()
    key = tenant.key
    serve_configuration(fake_services, key, [route_item("a")], [], [instance_item("i")])
    tick.reload_from_tenants_service(tenant=tenant, now=NOW)

    # one bad route refuses the whole scheduled load; instance routes load on their own
    serve_configuration(
        fake_services,
        key,
        [route_item("a2"), route_item("bad", travelDuration=0)],
        [],
        [instance_item("i"), instance_item("j")],
    )
    assert not tick.reload_from_tenants_service(tenant=tenant, now=NOW)
    assert list(Route.objects.filter(tenant=tenant).values_list("slug", flat=True)) == ["a"]
    assert InstanceRoute.objects.filter(tenant=tenant).count() == 2

    # a service that keeps failing changes nothing either
    fake_services.put(f"tenants/{key.id}/configurations/instance-routes", status=500, tenant=key)
    assert not tick.reload_from_tenants_service(tenant=tenant, now=NOW, scheduled=False)
    assert InstanceRoute.objects.filter(tenant=tenant).count() == 2


def test_the_tick_reconciles_every_tenant_of_the_tenant_list(fake_services):
    tenant = new_tenant()
    key = tenant.key
    fake_services.put(
        "tenants",
        {
            "data": [
                {
                    "id": str(key.id),
                    "type": "tenants",
                    "attributes": {
                        "name": "x",
                        "region": "GMS",
                        "majorVersion": 83,
                        "minorVersion": 1,
                    },
                }
            ]
        },
    )
    serve_configuration(fake_services, key, [route_item("a")], [], [])
    tick.run(NOW)
    assert Route.objects.filter(tenant=tenant).count() == 1
    serve_configuration(fake_services, key, [route_item("a"), route_item("b")], [], [])
    tick.run(NOW.replace(second=30))  # within TRANSPORT_TENANT_REFRESH_SECONDS: not re-read
    assert Route.objects.filter(tenant=tenant).count() == 1
    tick.run(NOW.replace(minute=22))
    assert Route.objects.filter(tenant=tenant).count() == 2


def configuration_event(resource_type: str, type_: str = "ROUTE_UPDATED") -> dict:
    return {
        "tenantId": str(uuid.uuid4()),
        "type": type_,
        "resourceType": resource_type,
        "resourceId": "x",
    }


@pytest.mark.parametrize(
    ("resource_type", "type_", "args"),
    [
        ("route", "ROUTE_UPDATED", (True, False)),
        ("vessel", "VESSEL_CREATED", (True, False)),
        ("instance-route", "INSTANCE_ROUTE_DELETED", (False, True)),
    ],
)
def test_a_configuration_event_reloads_after_the_transaction(
    fake_services, django_capture_on_commit_callbacks, resource_type, type_, args
):
    tenant = new_tenant()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert (
            deliver(
                tenant,
                messages.EVENT_TOPIC_CONFIGURATION_STATUS,
                configuration_event(resource_type, type_),
            )
            == ""
        )
    assert len(callbacks) == 1  # the reload task is sent only once the inbox row commits
    serve_configuration(fake_services, tenant.key, [route_item("a")], [], [instance_item("i")])
    assert tasks.reload_configuration_task.apply(args=[tenant.pk, *args]).get()
    assert Route.objects.filter(tenant=tenant).exists() == args[0]
    assert InstanceRoute.objects.filter(tenant=tenant).exists() == args[1]


def test_other_configuration_resources_are_ignored(
    fake_services, django_capture_on_commit_callbacks
):
    tenant = new_tenant()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliver(
            tenant,
            messages.EVENT_TOPIC_CONFIGURATION_STATUS,
            configuration_event("rps-reward", "RPS_REWARD_CREATED"),
        )
        deliver(
            tenant,
            messages.EVENT_TOPIC_CONFIGURATION_STATUS,
            configuration_event("mts", "ROUTE_UPDATED"),
        )
    assert callbacks == []


# --- the admin ------------------------------------------------------------------------


@pytest.fixture
def admin_client_with_routes(admin_client):
    tenant = new_tenant(tenant_uuid=TENANT_UUID)
    services.seed_configuration_load(tenant=tenant, now=NOW)
    tick.run(NOW)
    return admin_client, tenant


def test_the_admin_lists_routes_with_state_next_transition_and_timetable(
    admin_client_with_routes,
):
    client, tenant = admin_client_with_routes
    listing = client.get("/admin/transport/route/")
    assert listing.status_code == 200
    assert b"boat-ellinia-orbis" in listing.content
    route = Route.objects.get(tenant=tenant, slug="boat-ellinia-orbis")
    page = client.get(f"/admin/transport/route/{route.pk}/change/")
    assert page.status_code == 200
    assert b"23:37:50" in page.content  # the last trip of the day in the timetable


def test_the_route_list_shows_the_state_once_and_the_tenant_short(admin_client_with_routes):
    client, tenant = admin_client_with_routes
    page = client.get("/admin/transport/route/").content.decode()
    head = page.split('id="result_list"')[1].split("</thead>")[0]

    columns = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', head)
    assert [column for column in columns if "state" in column] == ["current_state"]
    assert len(re.findall(r">State<", head)) == 1
    rows = page.split('id="result_list"')[1].split("</table>")[0]
    assert f"GMS 83.1 · {str(tenant.uuid)[:8]}</span>" in rows


def test_a_bad_admin_edit_is_refused_and_the_rest_keeps_running(admin_client_with_routes):
    client, tenant = admin_client_with_routes
    route = Route.objects.get(tenant=tenant, slug="boat-ellinia-orbis")
    form = {
        "tenant": tenant.pk,
        "slug": route.slug,
        "name": route.name,
        "start_map_id": route.start_map_id,
        "staging_map_id": route.staging_map_id,
        "en_route_map_ids": "[]",
        "destination_map_id": route.destination_map_id,
        "observation_map_id": route.observation_map_id,
        "boarding_window_seconds": 240,
        "pre_departure_seconds": 60,
        "travel_seconds": 600,
        "cycle_interval_seconds": 900,
    }
    refused = client.post(f"/admin/transport/route/{route.pk}/change/", form)
    assert refused.status_code == 200
    assert b"at least one en-route map is required" in refused.content
    assert Route.objects.get(pk=route.pk).en_route_map_ids == [200090010, 200090011]

    form["en_route_map_ids"] = "[200090010]"
    form["travel_seconds"] = 300
    saved = client.post(f"/admin/transport/route/{route.pk}/change/", form)
    assert saved.status_code == 302
    changed = Route.objects.get(pk=route.pk)
    assert changed.travel_seconds == 300
    assert len(changed.schedule) > 48  # the timetable was rebuilt with the shorter legs
    assert Route.objects.filter(tenant=tenant).count() == 12
