"""Shadow mode on the database alone: holding, pairing, id mapping, rules, the report,
the switch's settling of held rows and the REST refusal."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from project.db import statements
from project.messaging import bus, relay, wire
from project.messaging.models import InboxMessage, OutboxMessage, store_headers
from project.shadow import compare, inputs, modes
from project.shadow.models import IdPair, Result, ShadowService, UnknownInput, UpstreamMessage
from project.tenancy.models import Tenant
from tests.shadow.records import held, later, upstream
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

STATUS = "EVENT_TOPIC_NOTE_STATUS"
NIL = str(uuid.UUID(int=0))
NUL_REASON = 'ERROR: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)'


@pytest.fixture(autouse=True)
def _notes_in_shadow(settings):
    settings.ATLAS_SHADOW = ["notes"]
    settings.SHADOW_WINDOW_SECONDS = 10.0


def created(tx: str, character: int, note: int, message: str = "hi", time: str = "t") -> dict:
    return {
        "transactionId": tx,
        "characterId": character,
        "type": "CREATED",
        "body": {"noteId": note, "senderId": 3, "message": message, "flag": 0, "time": time},
    }


def deleted(character: int, note: int) -> dict:
    return {"transactionId": NIL, "characterId": character, "type": "DELETED",
            "body": {"noteId": note}}  # fmt: skip


def failed(tx: str, character: int, reason: str) -> dict:
    return {"transactionId": tx, "characterId": character, "type": "CREATE_FAILED",
            "body": {"senderId": 3, "reason": reason}}  # fmt: skip


def ours(tenant: Tenant, value: dict, *, cause: int | None = None) -> OutboxMessage:
    return held(tenant, "notes", STATUS, wire.key_u32(value["characterId"]), value, cause=cause)


def theirs(tenant: Tenant, value: dict, *, at: dt.datetime | None = None) -> UpstreamMessage:
    return upstream(tenant, "notes", STATUS, wire.key_u32(value["characterId"]), value, at=at)


def classes() -> dict[str, str]:
    return {
        f"{r.message_type}:{(r.ours or r.theirs).id if (r.ours or r.theirs) else ''}": r.klass
        for r in Result.objects.all()
    }


def test_a_shadowed_services_rows_are_held_and_the_relay_does_not_read_them():
    tenant = new_tenant()
    row = ours(tenant, created(str(uuid.uuid4()), 7, 1))
    assert OutboxMessage.objects.get(id=row.id).shadow == OutboxMessage.Shadow.HELD
    with transaction.atomic(), bus.caused_by(bus.Cause("", None, None, "invites")):
        live = bus.emit(tenant=tenant, topic="EVENT_TOPIC_INVITE_STATUS", key=b"k", value={})
    unsent = {r.id for r in statements.select(relay._unsent_rows, [OutboxMessage.Shadow.NONE])}
    assert live.id in unsent and row.id not in unsent


def test_a_pair_with_assigned_ids_and_clocks_that_differ_matches_and_teaches_the_id():
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    ours(tenant, created(tx, 7, 5, time="2026-01-01T00:00:00Z"))
    theirs(tenant, created(tx, 7, 900, time="2026-01-01T00:00:01Z"))
    assert compare.run_once() == {"matched": 1}
    assert IdPair.objects.get(kind="note").theirs == "900"
    # held to from then on: a DELETED of note 5 must meet upstream's 900, not 901
    ours(tenant, deleted(7, 5))
    theirs(tenant, deleted(7, 901))
    assert compare.run_once() == {"different": 1}
    [result] = Result.objects.filter(klass="different")
    assert result.diff == [{"path": "body.noteId", "ours": 5, "upstream": 901}]


def test_a_field_that_differs_is_reported_with_both_values():
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    ours(tenant, created(tx, 7, 5, message="hello"))
    theirs(tenant, created(tx, 7, 5, message="hallo"))
    assert compare.run_once() == {"different": 1}
    assert Result.objects.get().diff == [
        {"path": "body.message", "ours": "hello", "upstream": "hallo"}
    ]


def test_a_difference_a_rule_explains_is_expected_with_the_rules_name():
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    ours(tenant, failed(tx, 7, NUL_REASON))
    theirs(tenant, failed(tx, 7, "pq: invalid byte sequence"))
    assert compare.run_once() == {"expected": 1}
    assert Result.objects.get().rule == "notes-nul-message-reason"
    # the same difference with another text of ours is not what the rule describes
    tx = str(uuid.uuid4())
    ours(tenant, failed(tx, 8, "something else"))
    theirs(tenant, failed(tx, 8, "pq: invalid byte sequence"))
    assert compare.run_once() == {"different": 1}


def test_one_sided_records_are_missing_only_once_the_window_passed():
    tenant = new_tenant()
    mine = ours(tenant, created(str(uuid.uuid4()), 7, 5))
    upstream = theirs(tenant, created(str(uuid.uuid4()), 8, 6))
    assert compare.run_once() == {}
    UpstreamMessage.objects.filter(id=upstream.id).update(received_at=later(-11))
    assert compare.run_once(now=later()) == {"missing_upstream": 1, "missing_here": 1}
    assert Result.objects.get(ours=mine).klass == "missing_upstream"
    assert Result.objects.get(theirs=upstream).klass == "missing_here"


def test_a_dead_letters_failure_event_missing_upstream_is_expected():
    tenant = new_tenant()
    ours(tenant, failed(str(uuid.uuid4()), 7, "failed 5 times: OperationalError: locked"))
    assert compare.run_once(now=later()) == {"expected": 1}
    assert Result.objects.get().rule == "dead-letter-failure-event"


def inbox_row(tenant: Tenant, value: dict, offset: int) -> InboxMessage:
    return InboxMessage.objects.create(
        app="notes",
        consumer_group="Notes Service (atlas-social shadow)",
        topic=wire.topic_name("COMMAND_TOPIC_NOTE"),
        partition=0,
        offset=offset,
        key=wire.key_u32(value["characterId"]),
        headers=store_headers(tenant.key.kafka_headers()),
        value=json.dumps(value).encode(),
        message_type=value["type"],
        ordering_key=f"notes:{offset}",
    )


def discard(character: int, notes: list[int]) -> dict:
    return {"transactionId": str(uuid.uuid4()), "worldId": 0, "channelId": 0,
            "characterId": character, "type": "DISCARD", "body": {"noteIds": notes}}  # fmt: skip


def test_consumed_ids_are_translated_and_an_unknown_one_has_no_baseline():
    tenant = new_tenant()
    IdPair.objects.create(service="notes", tenant=str(tenant.key.id), kind="note", ours="5",
                          theirs="900")  # fmt: skip
    known = inbox_row(tenant, discard(7, [900]), 1)
    assert inputs.translate(known, discard(7, [900]))["body"]["noteIds"] == [5]
    assert not UnknownInput.objects.exists()
    unknown = inbox_row(tenant, discard(7, [4242]), 2)
    assert inputs.translate(unknown, discard(7, [4242]))["body"]["noteIds"] == [4242]
    assert UnknownInput.objects.get().inbox_id == unknown.id
    # what it causes, and upstream's record of a note never seen made, are left out
    ours(tenant, deleted(7, 4242), cause=unknown.id)
    theirs(tenant, deleted(8, 4243), at=later(-11))
    UpstreamMessage.objects.update(received_at=later(-11))
    assert compare.run_once(now=later()) == {"no_baseline": 2}


def test_the_report_counts_each_class_and_exits_non_zero_on_unexpected_ones(capsys):
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    ours(tenant, created(tx, 7, 5))
    theirs(tenant, created(tx, 7, 5))
    compare.run_once()
    call_command("shadow_report", "--since", "1h", "--json")
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in compare.Class.values if k in report} == {
        "matched": 1, "different": 0, "expected": 0, "missing_upstream": 0,
        "missing_here": 0, "no_baseline": 0,
    }  # fmt: skip
    tx = str(uuid.uuid4())
    ours(tenant, created(tx, 7, 6, message="a"))
    theirs(tenant, created(tx, 7, 6, message="b"))
    compare.run_once()
    with pytest.raises(SystemExit) as exit_:
        call_command("shadow_report", "--since", "1h", "--json")
    assert exit_.value.code == 1
    assert json.loads(capsys.readouterr().out)["different"] == 1


def test_after_the_switch_held_rows_are_settled_by_the_offset_of_their_cause():
    tenant = new_tenant()
    before = inbox_row(tenant, discard(7, []), 4)
    after = inbox_row(tenant, discard(7, []), 5)
    upstreams = ours(tenant, deleted(7, 1), cause=before.id)
    published = ours(tenant, deleted(7, 2), cause=after.id)
    topic = wire.topic_name("COMMAND_TOPIC_NOTE")
    ShadowService.objects.create(app="notes", state="live", boundary={topic: {"0": 5}})
    assert modes.resolve_held("notes") == {"upstream": 1, "published": 1}
    assert OutboxMessage.objects.get(id=upstreams.id).shadow == OutboxMessage.Shadow.UPSTREAM
    assert OutboxMessage.objects.get(id=published.id).shadow == OutboxMessage.Shadow.NONE
    # and what a laggard record before the boundary causes later is never published
    assert ours(tenant, deleted(7, 3), cause=before.id).shadow == OutboxMessage.Shadow.UPSTREAM
    assert ours(tenant, deleted(7, 4), cause=after.id).shadow == OutboxMessage.Shadow.NONE


def test_rest_writes_of_a_shadowed_service_are_refused_and_reads_served():
    tenant = new_tenant()
    headers = {f"HTTP_{k}": v for k, v in tenant.key.http_headers().items()}
    client = Client()
    body = json.dumps({"data": {"type": "notes", "attributes": {"characterId": 7,
                       "senderId": 3, "message": "x", "flag": 0}}})  # fmt: skip
    refused = client.post("/api/notes", body, content_type="application/json", **headers)
    assert refused.status_code == 503
    assert json.loads(refused.content)["errors"][0]["title"] == "service in shadow mode"
    assert client.get("/api/notes", **headers).status_code == 200
    ShadowService.objects.create(app="notes", state="live")
    modes._cached.clear()
    served = client.post("/api/notes", body, content_type="application/json", **headers)
    assert served.status_code != 503


def test_the_admin_lists_results_by_class_and_shows_both_records_side_by_side(
    admin_client, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    ours(tenant, created(tx, 7, 5, message="hello"))
    theirs(tenant, created(tx, 7, 5, message="hallo"))
    compare.run_once()
    result = Result.objects.get()
    link = f"/admin/shadow/result/{result.id}/change/"
    listing = admin_client.get("/admin/shadow/result/?klass__exact=different")
    assert listing.status_code == 200 and link in listing.text
    assert link not in admin_client.get("/admin/shadow/result/?klass__exact=matched").text
    page = admin_client.get(f"/admin/shadow/result/{result.id}/change/").text
    assert "body.message" in page and "hello" in page and "hallo" in page
