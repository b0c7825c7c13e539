"""Invites through the real parts: Kafka → bridge → inbox → worker → outbox → relay → Kafka.

The stack's worker and beat run with a short ``INVITE_TIMEOUT_SECONDS`` (see
tests/stack.py), so an invite here lives a few seconds; each test uses its own
tenant and reads only that tenant's records.
"""

from __future__ import annotations

import json
import uuid

import pytest

from invites import messages
from invites.models import Invite
from project.messaging import wire
from project.messaging.models import InboxMessage
from tests.kafka_helpers import (
    assert_headers_carried_on,
    headers_of,
    of_tenant,
    traced_headers,
    value_of,
)
from tests.support import character_status, dead_letters
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


def command(type_: str, *, tx: uuid.UUID | None = None, world_id: int = 0, **body: int) -> dict:
    return {
        "transactionId": str(tx or uuid.uuid4()),
        "worldId": world_id,
        "inviteType": "PARTY",
        "type": type_,
        "body": body,
    }


def test_create_accept_and_reject_answer_on_the_status_topic(kafka_client, tenant_key):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_INVITE_STATUS)
    trace_id = uuid.uuid4().hex
    headers = traced_headers(tenant_key, trace_id)
    create_tx, accept_tx, reject_tx = (uuid.uuid4() for _ in range(3))

    # when a CREATE is produced
    kafka_client.produce(
        messages.COMMAND_TOPIC_INVITE,
        command(
            "CREATE", tx=create_tx, world_id=1, originatorId=1001, targetId=2001, referenceId=5001
        ),
        key=wire.key_u32(5001),
        headers=headers,
    )

    # then CREATED leaves with upstream's bytes, key and headers (environment and trace copied)
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert created.key == bytes.fromhex("8913000000000000")
    assert created.value == (
        b'{"transactionId":"' + str(create_tx).encode() + b'","worldId":1,'
        b'"inviteType":"PARTY","referenceId":5001,"type":"CREATED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )
    assert_headers_carried_on(created, tenant_key, trace_id)

    # when the target accepts it
    kafka_client.produce(
        messages.COMMAND_TOPIC_INVITE,
        command("ACCEPT", tx=accept_tx, world_id=2, targetId=2001, referenceId=5001),
        key=wire.key_u32(5001),
        headers=headers,
    )

    # then ACCEPTED carries the command's tx and world with the stored parties
    (accepted,) = statuses.wait_for(of_tenant(tenant_key, "ACCEPTED"))
    assert accepted.key == bytes.fromhex("8913000000000000")
    assert accepted.value == (
        b'{"transactionId":"' + str(accept_tx).encode() + b'","worldId":2,'
        b'"inviteType":"PARTY","referenceId":5001,"type":"ACCEPTED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )

    # when another invite is created and the target rejects it by originator
    kafka_client.produce(
        messages.COMMAND_TOPIC_INVITE,
        command("CREATE", originatorId=1002, targetId=2001, referenceId=9000),
        key=wire.key_u32(9000),
        headers=headers,
    )
    statuses.wait_for(of_tenant(tenant_key, "CREATED", referenceId=9000))
    kafka_client.produce(
        messages.COMMAND_TOPIC_INVITE,
        command("REJECT", tx=reject_tx, world_id=3, targetId=2001, originatorId=1002),
        key=wire.key_u32(9000),
        headers=headers,
    )

    # then REJECTED names the stored reference, keyed by it
    (rejected,) = statuses.wait_for(of_tenant(tenant_key, "REJECTED"))
    assert rejected.key == bytes.fromhex("2823000000000000")
    assert value_of(rejected) == {
        "transactionId": str(reject_tx),
        "worldId": 3,
        "inviteType": "PARTY",
        "referenceId": 9000,
        "type": "REJECTED",
        "body": {"originatorId": 1002, "targetId": 2001},
    }
    # and no invite is left, every command handled
    assert not Invite.objects.filter(tenant__uuid=tenant_key.id).exists()
    states = InboxMessage.objects.filter(tenant__uuid=tenant_key.id, app="invites").values_list(
        "state", flat=True
    )
    assert list(states) == ["done"] * 4


def test_character_deleted_rejects_its_invites_and_other_types_are_skipped(
    kafka_client, tenant_key, tenant_headers
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_INVITE_STATUS)
    # given 2001 received two invites and sent one
    for originator, target, reference in ((1001, 2001, 1), (1002, 2001, 2), (2001, 3001, 3)):
        kafka_client.produce(
            messages.COMMAND_TOPIC_INVITE,
            command(
                "CREATE",
                world_id=reference,
                originatorId=originator,
                targetId=target,
                referenceId=reference,
            ),
            key=wire.key_u32(reference),
            headers=tenant_headers,
        )
    statuses.wait_for(of_tenant(tenant_key, "CREATED"), count=3)

    # when 2001 logs in (not for invites) and then is deleted
    login = character_status("LOGIN", 2001, channelId=1, mapId=100000000)
    deleted = character_status("DELETED", 2001)
    for event in (login, deleted):
        kafka_client.produce(
            messages.EVENT_TOPIC_CHARACTER_STATUS,
            event,
            key=wire.key_u32(2001),
            headers=tenant_headers,
        )

    # then one REJECTED per invite, with stored worlds and fresh transaction ids
    records = statuses.wait_for(of_tenant(tenant_key, "REJECTED"), count=3)
    values = [value_of(record) for record in records]
    assert sorted((v["referenceId"], v["worldId"], v["body"]["originatorId"]) for v in values) == [
        (1, 1, 1001),
        (2, 2, 1002),
        (3, 3, 2001),
    ]
    assert values[-1]["referenceId"] == 3  # received invites first, then sent ones
    assert all(uuid.UUID(v["transactionId"]).version == 4 for v in values)
    assert deleted["transactionId"] not in {v["transactionId"] for v in values}
    assert sorted(record.key for record in records) == sorted(wire.key_u32(r) for r in (1, 2, 3))
    # and the LOGIN left no inbox row at all; the DELETED was handled
    wait_until(
        lambda: (
            InboxMessage.objects.filter(message_type="DELETED", tenant__uuid=tenant_key.id)
            .filter(state="done")
            .exists()
        ),
        what="DELETED handled",
    )
    assert not InboxMessage.objects.filter(app="invites", message_type="LOGIN").exists()
    assert not Invite.objects.filter(tenant__uuid=tenant_key.id).exists()


def test_an_unanswered_invite_expires_with_the_deployments_environment(
    kafka_client, stack, tenant_key
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_INVITE_STATUS)
    timeout = float(stack.env["INVITE_TIMEOUT_SECONDS"])
    environment = stack.env.get("ATLAS_ENVIRONMENT", "")
    create_tx = uuid.uuid4()
    # given an invite created by a command from another environment
    kafka_client.produce(
        messages.COMMAND_TOPIC_INVITE,
        command(
            "CREATE", tx=create_tx, world_id=7, originatorId=1001, targetId=2001, referenceId=77
        ),
        key=wire.key_u32(77),
        headers=[*tenant_key.kafka_headers(), ("ENVIRONMENT", b"pr-42")],
    )
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))

    # when nobody answers it for longer than the timeout
    (rejected,) = statuses.wait_for(of_tenant(tenant_key, "REJECTED"), timeout=timeout + 30)

    # then the sweep rejected it: stored world, new transaction id, not before the timeout
    value = value_of(rejected)
    assert (value["worldId"], value["referenceId"], value["inviteType"]) == (7, 77, "PARTY")
    assert value["body"] == {"originatorId": 1001, "targetId": 2001}
    assert value["transactionId"] != str(create_tx)
    assert uuid.UUID(value["transactionId"]).version == 4
    assert rejected.key == wire.key_u32(77)
    assert rejected.timestamp - created.timestamp >= (timeout - 1) * 1000
    # with the invite's tenant and the deployment's own environment, not the command's
    got = headers_of(rejected)
    assert got["TENANT_ID"] == str(tenant_key.id).encode()
    assert got.get("ENVIRONMENT", b"") == environment.encode()
    assert not Invite.objects.filter(tenant__uuid=tenant_key.id).exists()


def test_bad_input_becomes_dead_letters_and_a_following_good_command_is_handled(
    kafka_client, tenant_key, tenant_headers
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_INVITE_STATUS)
    marker = str(uuid.uuid4())

    def good(**override: object) -> dict:
        document = command("CREATE", originatorId=1001, targetId=2001, referenceId=4242)
        document["marker"] = marker
        for name, bad in override.items():
            (document if name in document else document["body"])[name] = bad
        return document

    bad_inputs = [
        (
            "malformed JSON",
            b'{"marker":"' + marker.encode() + b'","type":"CREATE",',
            None,
            "invalid JSON",
        ),
        ("string id", good(targetId="2001"), None, "body.targetId"),
        (
            "float id",
            json.dumps(good(originatorId="F")).replace('"F"', "1001.0").encode(),
            None,
            "body.originatorId",
        ),
        ("bool id", good(referenceId=True), None, "body.referenceId"),
        ("negative id", good(originatorId=-1), None, "out of range"),
        ("world out of range", good(worldId=256), None, "worldId"),
        ("empty transactionId", good(transactionId=""), None, "transactionId"),
        ("body not object", good(body=[1]), None, "body"),
        ("missing tenant headers", good(), [], "missing TENANT_ID"),
        ("unknown command type", good(type="INVITE"), None, "unknown command type 'INVITE'"),
    ]
    # given a run of bad records on the command topic
    for _name, value, headers, _reason in bad_inputs:
        kafka_client.produce(
            messages.COMMAND_TOPIC_INVITE,
            value,
            key=wire.key_u32(4242),
            headers=tenant_headers if headers is None else headers,
        )
    # and a bad DELETED on the character topic
    kafka_client.produce(
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        {**character_status("DELETED", 2001), "characterId": "2001", "marker": marker},
        key=wire.key_u32(2001),
        headers=tenant_headers,
    )

    # when a good CREATE follows them
    good_tx = uuid.uuid4()
    kafka_client.produce(
        messages.COMMAND_TOPIC_INVITE,
        command("CREATE", tx=good_tx, originatorId=1001, targetId=2001, referenceId=4243),
        key=wire.key_u32(4242),
        headers=tenant_headers,
    )

    # then it is handled
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert value_of(created)["transactionId"] == str(good_tx)

    # and every bad record is a dead letter with its reason, in order
    dead = dead_letters("invites", marker, len(bad_inputs) + 1)
    by_topic = {topic: [r for r in dead if r.topic == topic] for topic in {r.topic for r in dead}}
    command_rows = by_topic[wire.topic_name(messages.COMMAND_TOPIC_INVITE)]
    for (name, _value, _headers, reason), row in zip(bad_inputs, command_rows, strict=True):
        assert reason in row.error, f"{name}: {row.error!r}"
    (character_row,) = by_topic[wire.topic_name(messages.EVENT_TOPIC_CHARACTER_STATUS)]
    assert "characterId" in character_row.error
    # and nothing but the good command changed anything
    invites = Invite.objects.filter(tenant__uuid=tenant_key.id)
    assert list(invites.values_list("reference_id", flat=True)) == [4243]
    published = statuses.settled(tenant_key)  # all the tenant's handled commands caused
    assert len([r for r in published if value_of(r)["type"] == "CREATED"]) == 1
