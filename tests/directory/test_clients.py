"""The outgoing clients against a real HTTP server, and the local directory without one."""

from __future__ import annotations

import time
import uuid

import pytest

from project import directory
from project.directory import characters, data, maps
from project.directory.models import Character as LocalCharacter
from project.directory.models import Portal as LocalPortal
from project.messaging import bus, wire
from project.tenancy.rows import tenant_row
from tests.fake_services import Answer

NIL = uuid.UUID(int=0)


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch):
    monkeypatch.setattr("project.directory.http.BACKOFF_START", 0.01)


def test_a_character_is_read_from_the_character_service_with_upstream_headers(
    fake_services, tenant_key
):
    fake_services.character(tenant_key, 1002, name="Bob", world_id=1, level=25, job_id=210)
    trace = wire.TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    with bus.caused_by(bus.Cause("main", trace)):
        found = characters.fetch(tenant_key, 1002)
    assert found == characters.Character(1002, 1, "Bob", 25, 210, 0)
    (seen,) = fake_services.requests_to("characters/1002")
    assert seen.headers["TENANT_ID"] == str(tenant_key.id)
    assert seen.headers["REGION"] == "GMS"
    assert (seen.headers["MAJOR_VERSION"], seen.headers["MINOR_VERSION"]) == ("83", "1")
    assert seen.headers["ENVIRONMENT"] == "main"
    assert seen.headers["CONTENT-TYPE"] == "application/json; charset=utf-8"
    assert seen.headers["TRACEPARENT"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


def test_an_unknown_character_is_not_found_at_once(fake_services, tenant_key):
    with pytest.raises(directory.NotFound):
        characters.fetch(tenant_key, 9)
    assert len(fake_services.requests_to("characters/9")) == 1


def test_a_503_is_retried_and_the_third_attempt_answers(fake_services, tenant_key):
    fake_services.character(tenant_key, 5, name="E")
    document = fake_services.answers[(str(tenant_key.id), "/api/characters/5")]
    document.before = [Answer(503), Answer(503, headers={"Retry-After": "0"})]
    assert characters.fetch(tenant_key, 5).name == "E"
    assert len(fake_services.requests_to("characters/5")) == 3


def test_three_failures_make_the_service_unavailable(fake_services, tenant_key):
    fake_services.put("characters/6", status=503, tenant=tenant_key)
    with pytest.raises(directory.Unavailable):
        characters.fetch(tenant_key, 6)
    assert len(fake_services.requests_to("characters/6")) == 3


def test_a_500_is_not_retried(fake_services, tenant_key):
    fake_services.put("characters/7", status=500, tenant=tenant_key)
    with pytest.raises(directory.Unavailable):
        characters.fetch(tenant_key, 7)
    assert len(fake_services.requests_to("characters/7")) == 1


def test_each_attempt_is_bounded_by_the_client_timeout(fake_services, tenant_key, settings):
    settings.HTTP_CLIENT_TIMEOUT = 0.2
    from project.directory import http

    http._local.__dict__.clear()  # a client with the new timeout
    fake_services.character(tenant_key, 8, delay=2)
    began = time.monotonic()
    with pytest.raises(directory.Unavailable):
        characters.fetch(tenant_key, 8)
    assert time.monotonic() - began < 1.5
    http._local.__dict__.clear()


def test_a_location_comes_from_the_maps_service_and_none_when_unknown(fake_services, tenant_key):
    fake_services.character(tenant_key, 3, world_id=1, channel_id=2, map_id=100000000)
    assert characters.location(tenant_key, 3) == characters.Location(1, 2, 100000000, NIL)
    assert characters.location(tenant_key, 4) is None


def test_a_collection_is_drained_across_its_pages(fake_services, tenant_key):
    path = f"worlds/0/channels/1/maps/200/instances/{NIL}/characters/"
    pages = [
        {"data": [{"type": "characters", "id": "9"}], "meta": {"page": {"last": 2}}},
        {"data": [{"type": "characters", "id": "3"}], "meta": {"page": {"last": 2}}},
    ]
    fake_services.put(path, pages[1], tenant=tenant_key)
    fake_services.answers[(str(tenant_key.id), "/api/" + path)].before = [
        Answer(200, wire.dumps(pages[0]))
    ]
    found = maps.characters_in_map(tenant_key, world_id=0, channel_id=1, map_id=200, instance=NIL)
    assert found == [3, 9]
    numbers = [r.query["page[number]"] for r in fake_services.requests_to(path)]
    assert numbers == [["1"], ["2"]]
    assert fake_services.requests_to(path)[0].query["page[size]"] == ["250"]


def test_portals_come_from_the_data_service(fake_services, tenant_key):
    fake_services.put(
        "data/maps/101000300/portals",
        {
            "data": [
                {"type": "portals", "id": "2", "attributes": {"name": "sp", "type": 0,
                                                               "targetMapId": 999999999}},
                {"type": "portals", "id": "1", "attributes": {"name": "out", "type": 2,
                                                               "targetMapId": 101000000}},
            ]
        },
        tenant=tenant_key,
    )  # fmt: skip
    assert data.portals(tenant_key, 101000300) == [
        data.Portal(1, "out", 2, 101000000),
        data.Portal(2, "sp", 0, 999999999),
    ]


# --- no URL: the local directory ---------------------------------------------------------


@pytest.mark.django_db
def test_without_urls_the_local_directory_answers(settings, tenant_key):
    settings.SERVICE_URLS = {}
    settings.BASE_SERVICE_URL = ""
    tenant = tenant_row(tenant_key)
    LocalCharacter.objects.create(
        tenant=tenant, character_id=1, name="A", level=10, job_id=100, gm=0, world_id=1,
        channel_id=2, map_id=300, online=True,
    )  # fmt: skip
    LocalCharacter.objects.create(tenant=tenant, character_id=2, world_id=1, channel_id=2,
                                  map_id=300, online=False)  # fmt: skip
    LocalPortal.objects.create(tenant=tenant, map_id=300, portal_id=4, type=0)
    assert characters.fetch(tenant_key, 1) == characters.Character(1, 1, "A", 10, 100, 0)
    assert characters.location(tenant_key, 1) == characters.Location(1, 2, 300, NIL)
    assert maps.characters_in_map(tenant_key, world_id=1, channel_id=2, map_id=300,
                                  instance=NIL) == [1]  # fmt: skip
    assert [p.id for p in data.portals(tenant_key, 300)] == [4]
    with pytest.raises(directory.NotFound):
        characters.fetch(tenant_key, 99)
    assert characters.location(tenant_key, 99) is None
