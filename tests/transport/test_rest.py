"""REST of transport: through the real HTTP server, and in-process with a frozen
clock for upstream's exact documents."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.rest_links import follow, links_of
from tests.support import new_tenant
from tests.transport.support import TENANT_UUID, at
from transport import clock, config, messages, selectors, services, timetable
from transport.models import Route

BOAT_A = "388b7a6a-77e7-5367-8170-d95a4a1a5741"
BOAT_B = "617b8995-12ad-54de-a331-d39a07c332a8"
KERNING = "6886431a-c4ba-57a9-98f7-c9fdf7df6bb9"
BAD_PAGE = (
    b'{"errors":[{"status":"400","title":"Bad Request",'
    b'"detail":"invalid page[number]/page[size]"}]}'
)


def boat_only(tenant, now):
    items = {i["id"]: i for i in config.seed_items("routes")}
    scheduled = config.parse_scheduled(
        tenant.uuid,
        [items["boat-ellinia-orbis"], items["boat-orbis-ellinia"]],
        [v for v in config.seed_items("vessels") if v["id"] == "boat-ellinia-orbis"],
    )
    services.scheduled_configuration_replace(
        tenant=tenant, scheduled=scheduled, now=now, source="test"
    )
    services.instance_routes_replace(
        tenant=tenant,
        routes=config.parse_instance_routes(tenant.uuid, config.seed_items("instance-routes")),
        now=now,
        source="test",
    )


# --- in-process, frozen clock ---------------------------------------------------------


@pytest.fixture
def spec_tenant(db):
    tenant = new_tenant(tenant_uuid=TENANT_UUID)
    boat_only(tenant, at("2026-08-06T00:00:00"))
    return tenant


def get(path: str, tenant, **kw):
    return Client().get(path, headers=tenant.key.http_headers(), **kw)


def test_the_spec_example_document_of_the_routes_list(spec_tenant):
    with clock.frozen(at("2026-08-06T00:20:00")):
        response = get("/api/transports/routes?page[size]=1", spec_tenant)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "links": {
            "first": "/api/transports/routes?page%5Bnumber%5D=1&page%5Bsize%5D=1",
            "last": "/api/transports/routes?page%5Bnumber%5D=2&page%5Bsize%5D=1",
            "next": "/api/transports/routes?page%5Bnumber%5D=2&page%5Bsize%5D=1",
            "self": "/api/transports/routes?page%5Bnumber%5D=1&page%5Bsize%5D=1",
        },
        "data": [
            {
                "type": "routes",
                "id": BOAT_A,
                "attributes": {
                    "name": "boat-ellinia-orbis",
                    "startMapId": 101000300,
                    "stagingMapId": 101000301,
                    "enRouteMapIds": [200090010, 200090011],
                    "destinationMapId": 200000100,
                    "observationMapId": 101000300,
                    "state": "awaiting_return",
                    "cycleInterval": 900000000000,
                    "boardingWindowSeconds": 240,
                    "preDepartureSeconds": 60,
                    "travelDurationSeconds": 600,
                    "cycleIntervalSeconds": 900,
                    "nextTransitionAt": "2026-08-06T00:30:10Z",
                    "nextState": "open_entry",
                },
                "relationships": {
                    "schedule": {
                        "links": {
                            "related": f"/api/routes/{BOAT_A}/schedule",
                            "self": f"/api/routes/{BOAT_A}/relationships/schedule",
                        },
                        "data": [],
                    }
                },
            }
        ],
        "meta": {"page": {"last": 2, "number": 1, "size": 1}, "total": 2},
    }


def test_the_second_route_is_locked_and_a_voyage_in_transit_has_its_id(spec_tenant):
    with clock.frozen(at("2026-08-06T00:20:00")):
        second = json.loads(
            get("/api/transports/routes?page[size]=1&page[number]=2", spec_tenant).content
        )
    attributes = second["data"][0]["attributes"]
    assert (attributes["state"], attributes["nextState"], attributes["nextTransitionAt"]) == (
        "locked_entry",
        "in_transit",
        "2026-08-06T00:20:05Z",
    )
    assert "voyageId" not in attributes
    with clock.frozen(at("2026-08-06T00:25:00")):
        moving = json.loads(get(f"/api/transports/routes/{BOAT_B}", spec_tenant).content)
    route = Route.objects.get(route_id=BOAT_B)
    ev = selectors.evaluation(route, at("2026-08-06T00:25:00"))
    assert moving["data"]["attributes"]["voyageId"] == str(
        timetable.voyage_id(TENANT_UUID, route.route_id, ev.trip.trip_id, ev.departed_at)
    )


def test_include_schedule_lists_every_trip_in_order(spec_tenant):
    with clock.frozen(at("2026-08-06T00:20:00")):
        body = json.loads(get("/api/transports/routes?include=schedule", spec_tenant).content)
    a = body["data"][0]
    assert len(a["relationships"]["schedule"]["data"]) == 48
    first = body["included"][0]
    assert first["type"] == "trip-schedule"
    assert first["attributes"] == {
        "boardingOpen": "2026-08-06T00:00:00Z",
        "boardingClosed": "2026-08-06T00:04:00Z",
        "departure": "2026-08-06T00:05:00Z",
        "arrival": "2026-08-06T00:15:00Z",
    }
    assert len(body["included"]) == 95


def test_filter_by_start_map(spec_tenant):
    body = json.loads(
        get("/api/transports/routes?filter[startMapId]=200000111", spec_tenant).content
    )
    assert [r["id"] for r in body["data"]] == [BOAT_B]
    assert (
        json.loads(get("/api/transports/routes?filter[startMapId]=1", spec_tenant).content)["data"]
        == []
    )
    bad = get("/api/transports/routes?filter[startMapId]=x", spec_tenant)
    assert (bad.status_code, bad.content) == (400, b"")
    both_bad = get("/api/transports/routes?filter[startMapId]=x&page[size]=0", spec_tenant)
    assert (both_bad.status_code, both_bad.content) == (400, BAD_PAGE)


def test_an_instance_status_uses_whole_seconds(spec_tenant):
    services.instance_transport_start(
        tenant=spec_tenant,
        character_id=1001,
        world_id=0,
        channel_id=1,
        route_id=uuid.UUID(KERNING),
        now=at("2026-08-06T12:00:00.75"),
    )
    body = json.loads(get(f"/api/transports/instance-routes/{KERNING}/status", spec_tenant).content)
    (item,) = body["data"]
    assert item["type"] == "instance-status"
    assert item["attributes"] == {
        "routeId": KERNING,
        "state": "boarding",
        "characters": 1,
        "boardingUntil": "2026-08-06T12:00:01Z",
        "arrivalAt": "2026-08-06T12:00:11Z",
        "createdAt": "2026-08-06T12:00:00Z",
    }


# --- through the real HTTP server -----------------------------------------------------


@pytest.fixture
def seeded(rest, tenant_key):
    tenant = tenant_row(tenant_key)
    boat_only(tenant, clock.now())
    return tenant


def route_id(tenant_key: TenantKey, slug: str, kind: str = "routes") -> str:
    return str(uuid.uuid5(tenant_key.id, f"{kind}/{slug}"))


def test_routes_carry_the_state_of_the_request_instant(rest, seeded, tenant_key):
    before = clock.now()
    response = rest.get("/api/transports/routes")
    after = clock.now()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["meta"] == {"page": {"last": 1, "number": 1, "size": 50}, "total": 2}
    ids = [r["id"] for r in body["data"]]
    assert ids == sorted(ids)
    for item in body["data"]:
        route = Route.objects.get(route_id=item["id"])
        possible = {selectors.evaluation(route, t).state for t in (before, after)}
        assert item["attributes"]["state"] in possible


def test_one_route_has_its_schedule_included(rest, seeded, tenant_key):
    a = route_id(tenant_key, "boat-ellinia-orbis")
    body = rest.get(f"/api/transports/routes/{a}").json()
    assert body["data"]["id"] == a
    assert len(body["included"]) == 48
    assert {i["type"] for i in body["included"]} == {"trip-schedule"}


def test_unknown_and_invalid_route_ids(rest, seeded, tenant_key):
    unknown = rest.get(f"/api/transports/routes/{uuid.uuid4()}")
    assert (unknown.status_code, unknown.content) == (500, b"")
    invalid = rest.get("/api/transports/routes/not-a-uuid")
    assert (invalid.status_code, invalid.content) == (400, b"")
    missing = rest.get(f"/api/transports/instance-routes/{uuid.uuid4()}")
    assert (missing.status_code, missing.content) == (404, b"")
    assert rest.get("/api/transports/instance-routes/zzz").status_code == 400


def test_instance_routes_list_and_one(rest, seeded, tenant_key):
    body = rest.get("/api/transports/instance-routes?page[size]=5").json()
    assert body["meta"]["total"] == 12
    ids = [r["id"] for r in body["data"]]
    assert ids == sorted(ids) and len(ids) == 5
    kerning = route_id(tenant_key, "kerning-train-to-square", "instance-routes")
    one = rest.get(f"/api/transports/instance-routes/{kerning}").json()
    assert one == {
        "data": {
            "type": "instance-routes",
            "id": kerning,
            "attributes": {
                "name": "kerning-train-to-square",
                "startMapId": 103000100,
                "transitMapIds": [103000301],
                "destinationMapId": 103000310,
                "capacity": 1,
                "boardingWindow": 1000000000,
                "travelDuration": 10000000000,
                "boardingWindowSeconds": 1,
                "travelDurationSeconds": 10,
                "effectItemIds": [],
                "forcedReturnMapId": 0,
            },
        }
    }
    empty = rest.get(f"/api/transports/instance-routes/{uuid.uuid4()}/status").json()
    assert empty["data"] == []


def start_body(character_id=1001, type_="start-transport") -> dict:
    return {
        "data": {
            "type": type_,
            "attributes": {"characterId": character_id, "worldId": 0, "channelId": 1},
        }
    }


def test_start_boards_the_character_in_the_request_and_answers_204(rest, seeded, tenant_key):
    kerning = route_id(tenant_key, "kerning-train-to-square", "instance-routes")
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    response = rest.post(
        f"/api/transports/instance-routes/{kerning}/start",
        json=start_body(),
        headers={"traceparent": traceparent},
    )

    # then, as upstream, 204 with no body once the character is on board
    assert (response.status_code, response.content) == (204, b"")
    (instance,) = selectors.instances_of_route(tenant=seeded, route_id=uuid.UUID(kerning))
    assert instance.character_count == 1
    # and the instance's records were written by that request, in its trace: no START command
    rows = OutboxMessage.objects.filter(tenant=seeded).order_by("id")
    topics = [(row.topic, json.loads(bytes(row.value))["type"]) for row in rows]
    assert topics == [
        (wire.topic_name(messages.COMMAND_TOPIC_CHARACTER), "CHANGE_MAP"),
        (wire.topic_name(messages.EVENT_TOPIC_INSTANCE_TRANSPORT), "STARTED"),
    ]
    started = rows.last()
    assert bytes(started.key) == bytes.fromhex("e903000000000000")
    assert json.loads(bytes(started.value)) == {
        "transactionId": "00000000-0000-0000-0000-000000000000",
        "worldId": 0,
        "characterId": 1001,
        "type": "STARTED",
        "body": {"routeId": kerning, "instanceId": str(instance.instance_id)},
    }
    headers = dict(started.header_list)
    assert headers["traceparent"].decode().split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


def test_start_refusals_are_400_with_an_empty_body(rest, seeded, tenant_key):
    kerning = route_id(tenant_key, "kerning-train-to-square", "instance-routes")
    path = f"/api/transports/instance-routes/{kerning}/start"
    services.instance_transport_start(
        tenant=seeded,
        character_id=7,
        world_id=0,
        channel_id=1,
        route_id=uuid.UUID(kerning),
        now=clock.now(),
    )
    cases = [
        (path, start_body(7)),  # already in transport
        (f"/api/transports/instance-routes/{uuid.uuid4()}/start", start_body()),  # unknown
        ("/api/transports/instance-routes/bad/start", start_body()),
        (path, start_body(type_="start")),
        ("/api/transports/instance-routes/bad/start", start_body(type_="start")),
    ]
    for target, body in cases:
        response = rest.post(target, json=body)
        assert (response.status_code, response.content) == (400, b""), target
    assert rest.post(path, content=b"{").status_code == 400


def test_tenant_headers_paths_and_methods(rest, seeded):
    missing = rest.get("/api/transports/routes", tenant=False)
    assert (missing.status_code, missing.content) == (400, b"")
    assert rest.get("/api/transports/routes?limit=5").content == BAD_PAGE
    assert rest.post("/api/transports/routes").status_code == 405
    redirect = rest.get("/api/transports/routes/")
    assert redirect.status_code == 301
    assert rest.get(f"/api/transports/routes/{uuid.uuid4()}/state").status_code == 404


def test_a_new_tenants_reads_create_nothing_and_its_first_start_loads_the_seed(rest, tenant_key):
    from project.tenancy.models import Tenant

    # a read answers from what exists: nothing yet, and it stores nothing (issue 23)
    body = rest.get("/api/transports/routes?page[size]=1").json()
    assert body["meta"]["total"] == 0
    assert rest.get("/api/transports/instance-routes").json()["meta"]["total"] == 0
    assert not Tenant.objects.filter(uuid=tenant_key.id).exists()
    # the tenant's first command (START) loads the seed configuration, then boards
    kerning = route_id(tenant_key, "kerning-train-to-square", "instance-routes")
    started = rest.post(f"/api/transports/instance-routes/{kerning}/start", json=start_body())
    assert started.status_code == 204
    body = rest.get("/api/transports/routes?page[size]=1").json()
    assert body["meta"]["total"] == 12
    assert rest.get("/api/transports/instance-routes").json()["meta"]["total"] == 12


def test_every_link_of_every_route_document_answers(spec_tenant):
    with clock.frozen(at("2026-08-06T00:20:00")):
        route_id = str(selectors.routes_of(tenant=spec_tenant).first().route_id)
        instance_id = str(selectors.instance_routes_of(tenant=spec_tenant).first().route_id)
        documents = [
            "/api/transports/routes?page[size]=1",
            "/api/transports/routes?include=schedule&page[size]=1",
            f"/api/transports/routes/{route_id}",
            "/api/transports/instance-routes?page[size]=1",
            f"/api/transports/instance-routes/{instance_id}",
            f"/api/transports/instance-routes/{instance_id}/status",
        ]
        statuses = follow(lambda path: get(path, spec_tenant), *documents)

    # the schedule links (upstream's /api/routes/<id>/…) are among them, and all answer
    followed = [path for path in statuses if path not in documents]
    assert f"/api/routes/{route_id}/schedule" in followed
    assert f"/api/routes/{route_id}/relationships/schedule" in followed
    assert {path: status for path, status in statuses.items() if status != 200} == {}


def test_the_schedule_link_lists_the_routes_trips(spec_tenant):
    with clock.frozen(at("2026-08-06T00:20:00")):
        route = get(f"/api/transports/routes/{BOAT_A}", spec_tenant).json()
        related = f"/api/routes/{BOAT_A}/schedule"
        assert related in links_of(route)
        schedule = get(f"{related}?page[size]=250", spec_tenant).json()
        unknown = get(f"/api/routes/{uuid.uuid4()}/schedule", spec_tenant)

    # the trips the route document includes, in its order, as a paged collection
    assert schedule["data"] == route["included"]
    assert [t["id"] for t in schedule["data"]] == [
        r["id"] for r in route["data"]["relationships"]["schedule"]["data"]
    ]
    assert schedule["meta"]["total"] == len(route["included"]) > 0
    assert (unknown.status_code, unknown.content) == (404, b"")
