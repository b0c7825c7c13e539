"""The REST API of notes: documents, paging, status codes, error bodies.

Writes go through the same services as Kafka, so their status events are
checked in the outbox.
"""

from __future__ import annotations

import json
import uuid

import pytest

from notes import services
from notes.models import Note
from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.notes.support import STATUS_TOPIC, create
from tests.support import NIL, emitted

ERROR_500 = b'{"errors":[{"status":"500","title":"internal server error"}]}\n'
BAD_PAGE = (
    b'{"errors":[{"status":"400","title":"Bad Request",'
    b'"detail":"invalid page[number]/page[size]"}]}'
)


def tenant_of(api):
    return tenant_row(api.tenant)


def other_tenant():
    return tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))


def body(status_attrs: dict | None = None, *, id_: object = "0", type_: str = "notes") -> dict:
    attributes = {"characterId": 200, "senderId": 100, "message": "Hello", "flag": 0}
    attributes.update(status_attrs or {})
    data: dict = {"type": type_, "attributes": attributes}
    if id_ is not None:
        data["id"] = id_
    return {"data": data}


def statuses_of(api) -> list[dict]:
    return [json.loads(r.raw) for r in emitted(STATUS_TOPIC, tenant_of(api))]


def assert_json(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response.headers["Content-Type"] == "application/json"


# --- create ---------------------------------------------------------------------------


def test_post_creates_a_note_answers_200_and_emits_created_with_nil_transaction(api):
    response = api.post("/api/notes", json=body({"flag": 1}))

    assert_json(response, 200)
    note = Note.objects.get(tenant_uuid=api.tenant.id)
    assert response.content == (
        b'{"data":{"type":"notes","id":"' + str(note.pk).encode() + b'","attributes":'
        b'{"characterId":200,"senderId":100,"message":"Hello","flag":1,"timestamp":"'
        + wire.go_time(note.timestamp).encode()
        + b'"}}}'
    )
    (created,) = emitted(STATUS_TOPIC, tenant_of(api))
    assert created.key == wire.key_u32(200)
    assert created.value == {
        "transactionId": NIL,
        "characterId": 200,
        "type": "CREATED",
        "body": {
            "noteId": note.pk,
            "senderId": 100,
            "message": "Hello",
            "flag": 1,
            "time": wire.go_time(note.timestamp),
        },
    }
    assert created.headers["TENANT_ID"] == str(api.tenant.id).encode()
    assert created.headers["MAJOR_VERSION"] == b"\x00\x53"


def test_post_ignores_a_sent_id_and_timestamp(api):
    response = api.post("/api/notes", json=body({"timestamp": "2020-01-01T00:00:00Z"}, id_="77"))
    assert_json(response, 200)
    data = response.json()["data"]
    assert data["id"] == str(Note.objects.get().pk)
    assert not data["attributes"]["timestamp"].startswith("2020")


@pytest.mark.parametrize(
    "document",
    [
        body(id_=None),
        body(id_=""),
        body(id_="abc"),
        body(id_=3),
        body(type_="note"),
        body({"characterId": 0}),
        body({"senderId": 0}),
        body({"message": ""}),
        body({"flag": 256}),
        body({"characterId": "200"}),
        body({"timestamp": "yesterday"}),
        {"data": []},
        {},
    ],
    ids=lambda d: json.dumps(d)[:60],
)
def test_post_refuses_bad_bodies_with_an_empty_400(api, document):
    response = api.post("/api/notes", json=document)
    assert_json(response, 400)
    assert response.content == b""
    assert not Note.objects.exists() and statuses_of(api) == []


def test_post_of_invalid_json_is_an_empty_400(api):
    response = api.post("/api/notes", content=b"{not json")
    assert_json(response, 400)
    assert response.content == b""


def test_post_of_a_nul_message_is_a_processor_500(api):
    response = api.post("/api/notes", json=body({"message": "a\u0000b"}))
    assert_json(response, 500)
    assert response.content == ERROR_500


def test_post_keeps_a_very_long_message(api):
    text = "x" * 200_000
    response = api.post("/api/notes", json=body({"message": text}))
    assert_json(response, 200)
    assert response.json()["data"]["attributes"]["message"] == text


# --- get ------------------------------------------------------------------------------


def test_get_one_note(api):
    note = create(tenant_of(api), character_id=200, sender_id=100, message="Hi", flag=1)
    response = api.get(f"/api/notes/{note.pk}")
    assert_json(response, 200)
    assert response.json() == {
        "data": {
            "type": "notes",
            "id": str(note.pk),
            "attributes": {
                "characterId": 200,
                "senderId": 100,
                "message": "Hi",
                "flag": 1,
                "timestamp": wire.go_time(note.timestamp),
            },
        }
    }


def test_a_missing_note_is_a_500_never_a_404(api):
    tenant = tenant_of(api)
    gone = create(tenant)
    services.note_delete(tenant=tenant, note_id=gone.pk)
    others = create(other_tenant())
    for note_id in (gone.pk, others.pk, 999_999_999):
        for method in ("get", "delete"):
            response = getattr(api, method)(f"/api/notes/{note_id}")
            assert_json(response, 500)
            assert response.content == ERROR_500
        response = api.patch(f"/api/notes/{note_id}", json=body(id_=str(note_id)))
        assert_json(response, 500)
        assert response.content == ERROR_500


def test_sparse_fieldsets_keep_only_the_named_attributes(api):
    note = create(tenant_of(api), flag=1)
    response = api.get(f"/api/notes/{note.pk}?fields[notes]=message,flag")
    assert_json(response, 200)
    assert response.json()["data"]["attributes"] == {"flag": 1, "message": "Thanks for the party!"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/notes/abc",
        "/api/notes/5x",
        "/api/notes/1.0",
        "/api/characters/x/notes",
        "/api/notes/99999999999999999999",
    ],
)
def test_a_bad_path_id_is_an_empty_400(api, path):
    for method in ("get", "delete"):
        response = getattr(api, method)(path)
        assert_json(response, 400)
        assert response.content == b""


def test_path_ids_are_signed_decimals_truncated_to_32_bits(api):
    tenant = tenant_of(api)
    note = create(tenant, character_id=4294967295)
    assert api.get(f"/api/notes/+{note.pk}").status_code == 200
    response = api.get("/api/characters/-1/notes")
    assert_json(response, 200)
    assert [d["id"] for d in response.json()["data"]] == [str(note.pk)]


@pytest.mark.parametrize("missing", ["TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"])
def test_missing_tenant_headers_are_an_empty_400_before_anything_else(api, missing):
    headers = api.tenant.http_headers()
    del headers[missing]
    for path in ("/api/notes/abc", "/api/notes?page[size]=9999", "/api/characters/1/notes"):
        response = api.get(path, headers=headers, tenant=False)
        assert_json(response, 400)
        assert response.content == b""


def test_bad_tenant_header_values_are_an_empty_400(api):
    for override in ({"TENANT_ID": "nope"}, {"REGION": ""}, {"MAJOR_VERSION": "x"}):
        response = api.get("/api/notes", headers=override)
        assert_json(response, 400)
        assert response.content == b""


def test_notes_are_visible_to_the_same_tenant_id_with_another_region(api):
    note = create(tenant_of(api))
    response = api.get(f"/api/notes/{note.pk}", headers={"REGION": "JMS", "MAJOR_VERSION": "185"})
    assert_json(response, 200)


# --- lists and paging -----------------------------------------------------------------


def test_character_notes_are_paged_with_upstream_links_and_meta(api):
    tenant = tenant_of(api)
    notes = [create(tenant, character_id=42, sender_id=2001, message=f"note{i}") for i in (1, 2, 3)]
    create(tenant, character_id=43)

    response = api.get("/api/characters/42/notes?page[size]=2")

    assert_json(response, 200)
    document = response.json()
    base = "/api/characters/42/notes?page%5Bnumber%5D={}&page%5Bsize%5D=2"
    assert document["links"] == {
        "first": base.format(1),
        "last": base.format(2),
        "next": base.format(2),
        "self": base.format(1),
    }
    assert [d["id"] for d in document["data"]] == [str(n.pk) for n in notes[:2]]
    assert document["data"][0]["attributes"]["message"] == "note1"
    assert document["meta"] == {"page": {"last": 2, "number": 1, "size": 2}, "total": 3}
    assert list(json.loads(response.content)) == ["links", "data", "meta"]
    assert b"\\u0026" in response.content  # Go escapes & inside the JSON strings

    second = api.get("/api/characters/42/notes?page[number]=2&page[size]=2").json()
    assert [d["id"] for d in second["data"]] == [str(notes[2].pk)]
    assert "next" not in second["links"] and second["links"]["prev"] == base.format(1)

    past = api.get("/api/characters/42/notes?page[number]=5&page[size]=2").json()
    assert past["data"] == [] and past["links"]["prev"] == base.format(2)


def test_an_empty_list_has_total_0_and_last_1(api):
    response = api.get("/api/characters/42/notes")
    assert_json(response, 200)
    document = response.json()
    assert document["data"] == []
    assert document["meta"] == {"page": {"last": 1, "number": 1, "size": 50}, "total": 0}


def test_all_notes_of_the_tenant_by_id(api):
    tenant = tenant_of(api)
    ids = [create(tenant, character_id=c).pk for c in (5, 4, 3)]
    create(other_tenant())
    services.note_delete(tenant=tenant, note_id=ids[1])
    response = api.get("/api/notes?page[size]=250&other=x")
    assert_json(response, 200)
    document = response.json()
    assert [d["id"] for d in document["data"]] == [str(ids[0]), str(ids[2])]
    assert document["links"]["self"] == "/api/notes?other=x&page%5Bnumber%5D=1&page%5Bsize%5D=250"


def test_the_last_page_of_a_long_list_is_read_from_the_end(api):
    tenant = tenant_of(api)
    ids = [create(tenant, character_id=7, message=str(i)).pk for i in range(23)]
    for number, expected in ((1, ids[:5]), (3, ids[10:15]), (4, ids[15:20]), (5, ids[20:])):
        response = api.get(f"/api/characters/7/notes?page[number]={number}&page[size]=5")
        assert [int(d["id"]) for d in response.json()["data"]] == expected


@pytest.mark.parametrize(
    "query",
    [
        "page[size]=0",
        "page[size]=251",
        "page[number]=0",
        "page[number]=x",
        "page[size]=1.5",
        "limit=5",
        "limit=",
        "page[size]=5&limit=5",
    ],
)
def test_bad_paging_is_a_400_with_the_library_body(api, query):
    for path in ("/api/notes", "/api/characters/42/notes"):
        response = api.get(f"{path}?{query}")
        assert_json(response, 400)
        assert response.content == BAD_PAGE


def test_empty_paging_values_mean_the_defaults(api):
    response = api.get("/api/notes?page[number]=&page[size]=")
    assert_json(response, 200)
    assert response.json()["meta"]["page"] == {"last": 1, "number": 1, "size": 50}


# --- update ---------------------------------------------------------------------------


def test_patch_overwrites_the_note_and_emits_updated(api):
    tenant = tenant_of(api)
    note = create(tenant, character_id=200, sender_id=100, flag=1)

    response = api.patch(
        f"/api/notes/{note.pk}",
        json=body({"characterId": 300, "message": "Edited", "flag": 0}, id_=f"00{note.pk}"),
    )

    assert_json(response, 200)
    stored = Note.objects.get(pk=note.pk)
    assert (stored.character_id, stored.message, stored.flag) == (300, "Edited", 0)
    assert response.json()["data"]["attributes"] == {
        "characterId": 300,
        "senderId": 100,
        "message": "Edited",
        "flag": 0,
        "timestamp": wire.go_time(stored.timestamp),
    }
    updated = emitted(STATUS_TOPIC, tenant)[-1]
    assert updated.key == wire.key_u32(300)
    assert updated.value == {
        "transactionId": NIL,
        "characterId": 300,
        "type": "UPDATED",
        "body": {
            "noteId": note.pk,
            "senderId": 100,
            "message": "Edited",
            "flag": 0,
            "time": wire.go_time(stored.timestamp),
        },
    }


@pytest.mark.parametrize(
    "document",
    [body(id_="999"), body(id_=None), body({"senderId": 0}), body({"message": ""}), {}],
    ids=["other id", "no id", "senderId 0", "empty message", "no data"],
)
def test_patch_refuses_a_bad_body_or_id_mismatch_with_an_empty_400(api, document):
    note = create(tenant_of(api))
    if document.get("data", {}).get("id") not in (None, "999"):
        document["data"]["id"] = str(note.pk)
    response = api.patch(f"/api/notes/{note.pk}", json=document)
    assert_json(response, 400)
    assert response.content == b""
    assert Note.objects.get(pk=note.pk).message == "Thanks for the party!"
    assert len(statuses_of(api)) == 1


# --- delete ---------------------------------------------------------------------------


def test_delete_one_answers_204_and_emits_deleted(api):
    tenant = tenant_of(api)
    note = create(tenant, character_id=258)
    response = api.delete(f"/api/notes/{note.pk}")
    assert_json(response, 204)
    assert response.content == b""
    assert Note.objects.get(pk=note.pk).deleted_at is not None
    deleted = emitted(STATUS_TOPIC, tenant)[-1]
    assert deleted.key == bytes.fromhex("0201000000000000")
    assert deleted.value == {
        "transactionId": NIL,
        "characterId": 258,
        "type": "DELETED",
        "body": {"noteId": note.pk},
    }
    assert api.get(f"/api/notes/{note.pk}").status_code == 500


def test_delete_all_of_a_character_answers_204_with_one_event_per_note(api):
    tenant = tenant_of(api)
    ids = [create(tenant, character_id=200).pk for _ in range(3)]
    kept = create(tenant, character_id=300)
    response = api.delete("/api/characters/200/notes")
    assert_json(response, 204)
    events = statuses_of(api)[4:]
    assert [(e["type"], e["body"]["noteId"]) for e in events] == [("DELETED", i) for i in ids]
    assert Note.objects.filter(deleted_at__isnull=True).get().pk == kept.pk
    again = api.delete("/api/characters/200/notes")
    assert_json(again, 204)
    assert len(statuses_of(api)) == 7


# --- routing --------------------------------------------------------------------------


def test_unsupported_methods_are_405_and_trailing_slashes_redirect(api):
    assert api.request("PUT", "/api/notes").status_code == 405
    assert api.post("/api/characters/1/notes", json=body()).status_code == 405
    response = api.get("/api/notes/")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/api/notes")


def test_writes_carry_the_requests_environment_and_trace(api):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"ENVIRONMENT": "main", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    api.post("/api/notes", json=body(), headers=headers)
    (row,) = OutboxMessage.objects.filter(tenant=tenant_of(api))
    got = dict(row.header_list)
    assert got["ENVIRONMENT"] == b"main"
    assert wire.TraceParent.parse(got["traceparent"]).trace_id == trace_id
