"""Each expected-difference rule of docs/shadow-rules.json for parties, messengers,
invites and transport, on the database alone: the difference it describes is
classified ``expected`` with its name, one it does not cover stays unexpected."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from project.messaging import wire
from project.shadow import compare
from project.shadow.models import IdPair, Result, UpstreamMessage
from project.tenancy.models import Tenant
from tests.shadow.records import held, later, upstream
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

NIL = str(uuid.UUID(int=0))


@pytest.fixture(autouse=True)
def _all_in_shadow(settings):
    settings.ATLAS_SHADOW = ["invites", "parties", "messengers", "transport", "notes"]
    settings.SHADOW_WINDOW_SECONDS = 10.0


def outcome() -> list[tuple[str, str, str]]:
    """(type, class, rule) of every result so far, in the order decided."""
    return list(Result.objects.order_by("id").values_list("message_type", "klass", "rule"))


# --- parties ----------------------------------------------------------------------

PARTY_STATUS = "EVENT_TOPIC_PARTY_STATUS"


def party_status(type_: str, actor: int, party: int, body: dict) -> dict:
    return {"actorId": actor, "worldId": 0, "partyId": party, "type": type_, "body": body,
            "transactionId": NIL}  # fmt: skip


def refused(actor: int, party: int, error: str = "ERROR_UNEXPECTED") -> dict:
    return party_status("ERROR", actor, party, {"type": error, "characterName": ""})


def test_parties_leader_only_our_refusal_pairs_with_upstreams_action_and_is_expected():
    tenant = new_tenant()
    IdPair.objects.create(service="parties", tenant=str(tenant.key.id), kind="party", ours="5",
                          theirs="905")  # fmt: skip
    # a member who is not the leader makes another the leader: ours refuses, upstream does
    held(tenant, "parties", PARTY_STATUS, wire.key_u32(5), refused(7, 5))
    changed = party_status("CHANGED_LEADER", 7, 905, {"characterId": 8, "disconnected": False})
    upstream(tenant, "parties", PARTY_STATUS, wire.key_u32(905), changed)
    assert compare.run_once() == {"expected": 1}
    assert outcome() == [("ERROR", "expected", "parties-leader-only")]
    # and an expel (LEAVE with force) likewise
    held(tenant, "parties", PARTY_STATUS, wire.key_u32(5), refused(7, 5))
    expel = party_status("EXPEL", 7, 905, {"characterId": 8})
    upstream(tenant, "parties", PARTY_STATUS, wire.key_u32(905), expel)
    assert compare.run_once() == {"expected": 1}


def test_parties_leader_only_covers_neither_another_actor_nor_another_refusal():
    tenant = new_tenant()
    for party in (5, 6):  # both seen made on each side
        IdPair.objects.create(service="parties", tenant=str(tenant.key.id), kind="party",
                              ours=str(party), theirs=str(party))  # fmt: skip
    changed = party_status("CHANGED_LEADER", 9, 5, {"characterId": 8, "disconnected": False})
    held(tenant, "parties", PARTY_STATUS, wire.key_u32(5), refused(7, 5))
    upstream(tenant, "parties", PARTY_STATUS, wire.key_u32(5), changed)
    assert compare.run_once() == {"different": 1}
    [result] = Result.objects.all()
    assert [d["path"] for d in result.diff if d["path"] == "actorId"] == ["actorId"]
    # a refusal of another kind does not answer upstream's action: both one-sided
    held(tenant, "parties", PARTY_STATUS, wire.key_u32(6), refused(7, 6, "ERROR_NOT_IN_PARTY"))
    upstream(tenant, "parties", PARTY_STATUS, wire.key_u32(6), changed | {"partyId": 6})
    assert compare.run_once(now=later()) == {"missing_upstream": 1, "missing_here": 1}


# --- messengers -------------------------------------------------------------------

MESSENGER_STATUS = "EVENT_TOPIC_MESSENGER_STATUS"


def messenger_status(tx: str, type_: str, actor: int, world: int, messenger: int,
                     body: dict) -> dict:  # fmt: skip
    return {"transactionId": tx, "actorId": actor, "worldId": world, "messengerId": messenger,
            "type": type_, "body": body}  # fmt: skip


def test_messengers_registry_written_upstreams_world_zero_is_expected_and_nothing_else():
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    joined = {"slot": 1}
    held(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(3),
         messenger_status(tx, "JOINED", 7, 2, 3, joined))  # fmt: skip
    upstream(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(3),
             messenger_status(tx, "JOINED", 7, 0, 3, joined))  # fmt: skip
    assert compare.run_once() == {"expected": 1}
    assert outcome() == [("JOINED", "expected", "messengers-registry-written")]
    # a world that differs from upstream's non-zero world, or another field: different
    for mine, theirs in [((7, 2), (7, 1)), ((7, 2), (8, 0))]:
        tx = str(uuid.uuid4())
        held(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(3),
             messenger_status(tx, "JOINED", *mine, 3, joined))  # fmt: skip
        upstream(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(3),
                 messenger_status(tx, "JOINED", *theirs, 3, joined))  # fmt: skip
        assert compare.run_once() == {"different": 1}


def test_messengers_registry_refusals_our_error_for_upstreams_create_is_expected():
    tenant = new_tenant()
    tx = str(uuid.uuid4())
    # ours knows the actor is in a messenger already and refuses; upstream creates one
    error = {"type": "ERROR_ALREADY_JOINED_1", "characterName": ""}
    held(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(0),
         messenger_status(tx, "ERROR", 7, 1, 0, error))  # fmt: skip
    upstream(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(42),
             messenger_status(tx, "CREATED", 7, 0, 42, {}))  # fmt: skip
    assert compare.run_once() == {"expected": 1}
    assert outcome() == [("ERROR", "expected", "messengers-registry-refusals")]
    # the same answer to another actor's command is not what the rule describes
    tx = str(uuid.uuid4())
    held(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(0),
         messenger_status(tx, "ERROR", 7, 1, 0, error))  # fmt: skip
    upstream(tenant, "messengers", MESSENGER_STATUS, wire.key_u32(43),
             messenger_status(tx, "CREATED", 8, 0, 43, {}))  # fmt: skip
    assert compare.run_once() == {"different": 1}


# --- invites ----------------------------------------------------------------------

INVITE_STATUS = "EVENT_TOPIC_INVITE_STATUS"


def invite_status(type_: str, reference: int, originator: int = 1001, target: int = 2001,
                  tx: str | None = None, kind: str = "PARTY") -> dict:  # fmt: skip
    return {"transactionId": tx or str(uuid.uuid4()), "worldId": 0, "inviteType": kind,
            "referenceId": reference, "type": type_,
            "body": {"originatorId": originator, "targetId": target}}  # fmt: skip


def upstreams_invite(tenant: Tenant, value: dict, at: dt.datetime, *, paired: bool = True):
    """One of upstream's invite status records at ``at`` (paired: matched back then)."""
    message = upstream(tenant, "invites", INVITE_STATUS, wire.key_u32(value["referenceId"]),
                       value, at=at)  # fmt: skip
    UpstreamMessage.objects.filter(id=message.id).update(paired=paired)
    return message


def test_invites_upstreams_second_end_of_an_invite_is_expected_and_a_lone_end_is_not():
    tenant = new_tenant()
    a_minute_ago = timezone.now() - dt.timedelta(seconds=60)
    # upstream accepted 5001 (and, by its quirk, removed the sibling 5002 instead) …
    upstreams_invite(tenant, invite_status("ACCEPTED", 5001), a_minute_ago)
    # … so its sweep later rejects 5001 again: ours had deleted it
    upstreams_invite(tenant, invite_status("REJECTED", 5001), timezone.now(), paired=False)
    # an end of an invite upstream never ended before, and one of another target's
    upstreams_invite(tenant, invite_status("ACCEPTED", 5003), timezone.now(), paired=False)
    upstreams_invite(tenant, invite_status("REJECTED", 5001, target=2002), timezone.now(),
                     paired=False)  # fmt: skip
    assert compare.run_once(now=later()) == {"expected": 1, "missing_here": 2}
    assert outcome() == [
        ("REJECTED", "expected", "invites-accept-deletes-matched"),
        ("ACCEPTED", "missing_here", ""),
        ("REJECTED", "missing_here", ""),
    ]


def test_invites_our_end_of_a_sibling_upstream_removed_silently_is_expected():
    tenant = new_tenant()
    upstreams_invite(tenant, invite_status("ACCEPTED", 5001),
                     timezone.now() - dt.timedelta(seconds=60))  # fmt: skip
    # ours still held 5002 (same originator, target, type) and ends it; upstream cannot
    held(tenant, "invites", INVITE_STATUS, wire.key_u32(5002), invite_status("ACCEPTED", 5002))
    # an invite of another originator, or of another type, had no sibling ended upstream
    held(tenant, "invites", INVITE_STATUS, wire.key_u32(5003),
         invite_status("ACCEPTED", 5003, originator=1009))  # fmt: skip
    held(tenant, "invites", INVITE_STATUS, wire.key_u32(5004),
         invite_status("REJECTED", 5004, kind="BUDDY"))  # fmt: skip
    assert compare.run_once(now=later()) == {"expected": 1, "missing_upstream": 2}
    assert outcome() == [
        ("ACCEPTED", "expected", "invites-sibling-removed-upstream"),
        ("ACCEPTED", "missing_upstream", ""),
        ("REJECTED", "missing_upstream", ""),
    ]


def test_invites_rejected_by_the_sweep_pair_by_key_though_each_side_drew_its_own_transaction():
    tenant = new_tenant()
    held(tenant, "invites", INVITE_STATUS, wire.key_u32(5001), invite_status("REJECTED", 5001))
    upstreams_invite(tenant, invite_status("REJECTED", 5001), timezone.now(), paired=False)
    assert compare.run_once() == {"matched": 1}
    # paired so, the other fields are still compared
    held(tenant, "invites", INVITE_STATUS, wire.key_u32(5002), invite_status("REJECTED", 5002))
    upstreams_invite(tenant, invite_status("REJECTED", 5002, originator=1002), timezone.now(),
                     paired=False)  # fmt: skip
    assert compare.run_once() == {"different": 1}
    assert Result.objects.get(klass="different").diff == [
        {"path": "body.originatorId", "ours": 1001, "upstream": 1002}
    ]
    # an ACCEPTED echoes its command's transaction: two of them do not pair by key
    accepted = invite_status("ACCEPTED", 5003, originator=1003)
    held(tenant, "invites", INVITE_STATUS, wire.key_u32(5003), accepted)
    upstreams_invite(tenant, accepted | {"transactionId": str(uuid.uuid4())}, timezone.now(),
                     paired=False)  # fmt: skip
    assert compare.run_once(now=later()) == {"missing_upstream": 1, "missing_here": 1}


# --- transport --------------------------------------------------------------------

TRANSPORT_STATUS = "EVENT_TOPIC_TRANSPORT_STATUS"


def departed(voyage: str, departed_at: str = "2026-01-01T10:00:00Z") -> dict:
    return {"routeId": "8a0c4f1e-0000-4000-8000-000000000001", "type": "DEPARTED",
            "body": {"voyageId": voyage, "worldId": 0, "channelId": 1, "stagingMapId": 101,
                     "enRouteMapIds": [200, 201], "destinationMapId": 300,
                     "observationMapId": 0, "departedAt": departed_at}}  # fmt: skip


def test_transport_upstreams_second_replicas_copy_is_expected_and_another_record_is_not():
    tenant = new_tenant()
    voyage = str(uuid.uuid4())
    key = voyage.encode("ascii")
    held(tenant, "transport", TRANSPORT_STATUS, key, departed(voyage))
    first = upstream(tenant, "transport", TRANSPORT_STATUS, key, departed(voyage))
    upstream(tenant, "transport", TRANSPORT_STATUS, key, departed(voyage))  # the other replica
    # a departure ours never made, not a copy: its departure time differs
    upstream(tenant, "transport", TRANSPORT_STATUS, key,
             departed(voyage, "2026-01-01T10:00:01Z"))  # fmt: skip
    assert compare.run_once() == {"matched": 1}
    assert Result.objects.get().theirs_id == first.id
    assert compare.run_once(now=later()) == {"expected": 1, "missing_here": 1}
    assert outcome()[1:] == [
        ("DEPARTED", "expected", "transport-exactly-one-tick"),
        ("DEPARTED", "missing_here", ""),
    ]
