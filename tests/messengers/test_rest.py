"""REST of messengers through the real HTTP server."""

from __future__ import annotations

import json
import uuid

import pytest

from messengers import services
from messengers.lookups import Facts
from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy.rows import tenant_row
from tests.messengers.support import COMMANDS, FIRST
from tests.rest_links import follow

BAD_PAGE = (
    b'{"errors":[{"status":"400","title":"Bad Request",'
    b'"detail":"invalid page[number]/page[size]"}]}'
)
NIL = uuid.UUID(int=0)
CAST = {
    1001: Facts("Alpha", 0),
    1002: Facts("Bravo", 0),
    1003: Facts("Charlie", 0),
    1004: Facts("Delta", 0),
}


def links(path: str, number: int, size: int = 2) -> str:
    return f"{path}?page%5Bnumber%5D={number}&page%5Bsize%5D={size}"


def messenger_object(messenger_id: int, *members: int) -> dict:
    return {
        "type": "messengers",
        "id": str(messenger_id),
        "attributes": {},
        "relationships": {
            "members": {
                "links": {
                    "related": f"/api/messengers/{messenger_id}/members",
                    "self": f"/api/messengers/{messenger_id}/relationships/members",
                },
                "data": [{"type": "members", "id": str(m)} for m in members],
            }
        },
    }


def member_object(character_id: int, name: str, channel: int, online: bool, slot: int) -> dict:
    return {
        "type": "members",
        "id": str(character_id),
        "attributes": {
            "name": name,
            "worldId": 0,
            "channelId": channel,
            "online": online,
            "slot": slot,
        },
    }


ALPHA = member_object(1001, "Alpha", 1, True, 0)
BRAVO = member_object(1002, "Bravo", 1, True, 0)
CHARLIE = member_object(1003, "Charlie", 2, False, 1)


@pytest.fixture
def three(tenant_key):
    """An example: 1000000000 (1001), 1000000001 (1002 seat 0, 1003 seat 1), and
    1000000002 (1004)."""
    tenant = tenant_row(tenant_key)
    tx = NIL
    for creator in (1001, 1002):
        services.messenger_create(
            tenant=tenant, transaction_id=tx, actor_id=creator, looked_up=CAST
        )
        services.character_login(
            tenant=tenant, transaction_id=tx, character_id=creator, channel_id=1, looked_up={}
        )
    services.messenger_join(
        tenant=tenant, transaction_id=tx, actor_id=1003, messenger_id=FIRST + 1, looked_up=CAST
    )
    services.character_channel_changed(tenant=tenant, character_id=1003, channel_id=2, looked_up={})
    services.messenger_create(tenant=tenant, transaction_id=tx, actor_id=1004, looked_up=CAST)
    return tenant


def test_the_first_page_is_the_specs_example(rest, three):
    response = rest.get("/api/messengers?page[number]=1&page[size]=2")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["links", "data", "included", "meta"]
    assert body == {
        "links": {
            "first": links("/api/messengers", 1),
            "last": links("/api/messengers", 2),
            "next": links("/api/messengers", 2),
            "self": links("/api/messengers", 1),
        },
        "data": [messenger_object(FIRST, 1001), messenger_object(FIRST + 1, 1002, 1003)],
        "included": [ALPHA, BRAVO, CHARLIE],
        "meta": {"page": {"last": 2, "number": 1, "size": 2}, "total": 3},
    }
    assert list(body["data"][0]) == ["type", "id", "attributes", "relationships"]
    assert list(body["included"][0]["attributes"]) == [
        "name",
        "worldId",
        "channelId",
        "online",
        "slot",
    ]


def test_default_page_and_past_the_end(rest, three):
    everything = rest.get("/api/messengers").json()
    assert [m["id"] for m in everything["data"]] == [str(FIRST + i) for i in range(3)]
    assert everything["meta"] == {"page": {"last": 1, "number": 1, "size": 50}, "total": 3}

    body = rest.get("/api/messengers?page[number]=99&page[size]=2").json()
    assert body["data"] == []
    assert body["links"]["prev"] == links("/api/messengers", 2)
    assert "next" not in body["links"]
    assert body["meta"]["total"] == 3


@pytest.mark.parametrize(
    "query", ["page[size]=0", "page[size]=251", "page[number]=0", "page[number]=x", "limit=5"]
)
def test_bad_paging_is_400_with_the_librarys_body(rest, three, query):
    response = rest.get(f"/api/messengers?{query}")
    assert (response.status_code, response.content) == (400, BAD_PAGE)
    assert response.headers["content-type"] == "application/json"


def test_filter_by_member(rest, three):
    body = rest.get("/api/messengers?filter[members.id]=1003&page[size]=5").json()
    assert body["data"] == [messenger_object(FIRST + 1, 1002, 1003)]
    assert body["included"] == [BRAVO, CHARLIE]
    assert body["meta"]["total"] == 1
    assert body["links"]["self"] == (
        "/api/messengers?filter%5Bmembers.id%5D=1003&page%5Bnumber%5D=1&page%5Bsize%5D=5"
    )
    # -1 wraps to 4294967295: nobody
    assert rest.get("/api/messengers?filter[members.id]=-1").json()["data"] == []
    for bad in ("x", ""):
        response = rest.get(f"/api/messengers?filter[members.id]={bad}")
        assert (response.status_code, response.content) == (400, b"")
    # page parameters are checked before the filter
    assert rest.get("/api/messengers?filter[members.id]=x&limit=1").content == BAD_PAGE


def test_one_messenger(rest, three):
    response = rest.get(f"/api/messengers/{FIRST + 1}")
    assert response.status_code == 200
    assert response.json() == {
        "data": messenger_object(FIRST + 1, 1002, 1003),
        "included": [BRAVO, CHARLIE],
    }

    missing = rest.get(f"/api/messengers/{FIRST + 7}")
    assert (missing.status_code, missing.content) == (404, b"")
    assert missing.headers["content-type"] == "application/json"
    bad = rest.get("/api/messengers/abc")
    assert (bad.status_code, bad.content) == (400, b"")


@pytest.mark.parametrize("route", ["members", "relationships/members"])
def test_members_of_a_messenger_by_character_id(rest, three, tenant_key, route):
    tenant = tenant_row(tenant_key)
    # member-list order differs from id order: 1002 leaves, 1001 moves in after 1003
    for actor, messenger_id in ((1002, FIRST + 1), (1001, FIRST)):
        services.messenger_leave(
            tenant=tenant,
            transaction_id=NIL,
            actor_id=actor,
            messenger_id=messenger_id,
            looked_up={},
        )
    services.messenger_join(
        tenant=tenant, transaction_id=NIL, actor_id=1001, messenger_id=FIRST + 1, looked_up={}
    )
    path = f"/api/messengers/{FIRST + 1}/{route}"

    body = rest.get(path).json()

    assert list(body) == ["links", "data", "meta"]
    assert [(m["id"], m["attributes"]["slot"]) for m in body["data"]] == [
        ("1001", 0),
        ("1003", 1),
    ]
    assert body["meta"] == {"page": {"last": 1, "number": 1, "size": 250}, "total": 2}
    assert rest.get(f"{path}?page[size]=1&page[number]=2").json()["data"][0]["id"] == "1003"
    assert rest.get(f"{path}?page[size]=251").content == BAD_PAGE
    # while the messenger itself lists them in seating (insertion) order
    messenger = rest.get(f"/api/messengers/{FIRST + 1}").json()
    assert [m["id"] for m in messenger["data"]["relationships"]["members"]["data"]] == [
        "1003",
        "1001",
    ]
    assert [m["id"] for m in messenger["included"]] == ["1003", "1001"]
    unknown = rest.get(f"/api/messengers/{FIRST + 9}/{route}")
    assert (unknown.status_code, unknown.content) == (500, b"")


def test_one_member(rest, three):
    response = rest.get(f"/api/messengers/{FIRST}/members/1001")
    assert response.status_code == 200
    assert response.content == (
        b'{"data":{"type":"members","id":"1001","attributes":'
        b'{"name":"Alpha","worldId":0,"channelId":1,"online":true,"slot":0}}}'
    )
    not_member = rest.get(f"/api/messengers/{FIRST}/members/1002")
    assert (not_member.status_code, not_member.content) == (404, b"")
    unknown = rest.get(f"/api/messengers/{FIRST + 9}/members/1001")
    assert (unknown.status_code, unknown.content) == (500, b"")


def commands(tenant) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(topic=wire.topic_name(COMMANDS), tenant=tenant).order_by("id")
    )


def test_post_member_sends_join_and_delete_sends_leave(rest, tenant_key):
    trace = f"00-{uuid.uuid4().hex}-00f067aa0ba902b7-01"

    posted = rest.post(
        f"/api/messengers/{FIRST}/members",
        json={"data": {"type": "members", "id": "1002", "attributes": {"name": "ignored"}}},
        headers={"traceparent": trace, "ENVIRONMENT": "main"},
    )
    deleted = rest.delete(f"/api/messengers/{FIRST}/members/1003")

    assert (posted.status_code, posted.content) == (202, b"")
    assert (deleted.status_code, deleted.content) == (202, b"")
    assert posted.headers["content-type"] == "application/json"
    join, leave = commands(tenant_row(tenant_key))
    assert bytes(join.key) == wire.key_u32(1002)
    assert bytes(leave.key) == wire.key_u32(1003)
    values = [json.loads(bytes(row.value)) for row in (join, leave)]
    assert [list(v) for v in values] == [["transactionId", "actorId", "type", "body"]] * 2
    assert [(v["actorId"], v["type"], v["body"]) for v in values] == [
        (1002, "JOIN", {"messengerId": FIRST}),
        (1003, "LEAVE", {"messengerId": FIRST}),
    ]
    assert all(uuid.UUID(v["transactionId"]).version == 4 for v in values)
    headers = dict(join.header_list)
    assert headers["TENANT_ID"] == str(tenant_key.id).encode()
    assert (headers["MAJOR_VERSION"], headers["MINOR_VERSION"]) == (b"\x00\x53", b"\x00\x01")
    assert headers["ENVIRONMENT"] == b"main"
    assert wire.TraceParent.parse(headers["traceparent"]).trace_id == trace.split("-")[1]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"data":{"type":"messengers","id":"1002"}}',
        b'{"data":{"type":"members"}}',
        b'{"data":{"type":"members","id":"abc"}}',
        b'{"data":{"type":"members","id":"1002","attributes":{"worldId":"0"}}}',
        b'{"data":{"type":"members","id":"1002","attributes":{"online":1}}}',
    ],
)
def test_a_bad_post_body_is_400_and_sends_nothing(rest, tenant_key, body):
    response = rest.post(f"/api/messengers/{FIRST}/members", content=body)
    assert (response.status_code, response.content) == (400, b"")
    assert not commands(tenant_row(tenant_key))


def test_ids_wrap_and_bad_ids_are_400(rest, tenant_key):
    # -1 is 4294967295
    assert rest.delete("/api/messengers/-1/members/1001").status_code == 202
    (leave,) = commands(tenant_row(tenant_key))
    assert json.loads(bytes(leave.value))["body"] == {"messengerId": 4294967295}
    for path in ("/api/messengers/x/members/1001", "/api/messengers/1/members/y"):
        response = rest.delete(path)
        assert (response.status_code, response.content) == (400, b"")
    post = rest.post("/api/messengers/x/members", json={"data": {"type": "members", "id": "1001"}})
    assert post.status_code == 400


def test_tenant_headers_are_required(rest, three):
    for path in ("/api/messengers", f"/api/messengers/{FIRST}/members"):
        response = rest.get(path, tenant=False)
        assert (response.status_code, response.content) == (400, b"")
        assert response.headers["content-type"] == "application/json"


def test_trailing_slash_redirects(rest, three):
    response = rest.get("/api/messengers/?page[size]=2")
    assert response.status_code == 301
    assert response.headers["location"].startswith("/api/messengers?")


def test_every_link_of_the_messenger_documents_answers(rest, three):
    documents = [
        "/api/messengers?page[size]=1",
        f"/api/messengers/{FIRST + 1}",
        f"/api/messengers/{FIRST + 1}/members",
    ]
    statuses = follow(lambda path: rest.get(path), *documents)
    assert f"/api/messengers/{FIRST + 1}/relationships/members" in statuses
    assert {path: status for path, status in statuses.items() if status != 200} == {}
