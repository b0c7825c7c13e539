"""Decoding invite commands and character events with the real subscription.

``decode`` is what the bridge and the worker run: an ``error`` makes the record a
dead letter, no handler and no error means skipped.
"""

from __future__ import annotations

import json
import uuid

import pytest

from invites import messages, services
from project.messaging import registry, wire
from project.messaging.decoding import Decoded, decode
from project.tenancy import TenantKey

TENANT = TenantKey(uuid.UUID("ec876921-c363-4cc6-9c51-5bb8d57f9553"), "GMS", 83, 1)
HEADERS = TENANT.kafka_headers()
TX = "7d3e9a52-1c4b-4f8e-a6d2-3b9c0e1f2a4d"


def commands():
    return registry.get("invites").subscription_for_topic(
        wire.topic_name(messages.COMMAND_TOPIC_INVITE)
    )


def characters():
    return registry.get("invites").subscription_for_topic(
        wire.topic_name(messages.EVENT_TOPIC_CHARACTER_STATUS)
    )


def command(type_: str = "CREATE", **body_and_envelope: object) -> dict:
    body = {"originatorId": 1001, "targetId": 2001, "referenceId": 5001}
    envelope = {"transactionId": TX, "worldId": 0, "inviteType": "PARTY", "type": type_}
    for name, field in body_and_envelope.items():
        (envelope if name in envelope or name == "body" else body)[name] = field
    envelope.setdefault("body", body)
    return envelope


def decode_command(document: dict | bytes, headers=HEADERS) -> Decoded:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return decode(commands(), headers, raw)


def deleted(**fields: object) -> dict:
    return {
        "transactionId": TX,
        "worldId": 0,
        "characterId": 2001,
        "type": "DELETED",
        "body": {},
        **fields,
    }


def decode_character(document: dict | bytes, headers=HEADERS) -> Decoded:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return decode(characters(), headers, raw)


# --- the subscription -----------------------------------------------------------------


def test_the_invites_consumer_is_registered_as_upstream():
    # given the registered consumer
    consumer = registry.get("invites")

    # then it uses upstream's group, topics and types
    assert consumer.group == "Invitation Service"
    assert consumer.produces == ["EVENT_TOPIC_INVITE_STATUS"]
    assert commands().kind == "command"
    assert set(commands().handlers) == {"CREATE", "ACCEPT", "REJECT"}
    assert characters().kind == "event"
    assert set(characters().handlers) == {"DELETED"}


# --- valid commands -------------------------------------------------------------------


def test_a_create_decodes_to_its_handler_tenant_and_typed_values():
    # when a CREATE is decoded
    decoded = decode_command(command())

    # then it goes to the CREATE handler with the tenant and Go-typed values
    assert decoded.error == ""
    assert decoded.handler.func.service is services.invite_create
    assert decoded.tenant == TENANT
    assert decoded.data == {
        "transactionId": uuid.UUID(TX),
        "worldId": 0,
        "inviteType": "PARTY",
        "type": "CREATE",
        "body": {"originatorId": 1001, "targetId": 2001, "referenceId": 5001},
    }


def test_accept_and_reject_decode_their_own_bodies():
    # when an ACCEPT and a REJECT are decoded
    accept = decode_command(
        {
            "worldId": 1,
            "inviteType": "PARTY",
            "type": "ACCEPT",
            "body": {"targetId": 2001, "referenceId": 5001},
        }
    )
    reject = decode_command(
        {"inviteType": "BUDDY", "type": "REJECT", "body": {"targetId": 2001, "originatorId": 1001}}
    )

    # then each has only its own body fields, and the missing transactionId is the nil UUID
    assert accept.handler.func.service is services.invite_accept
    assert accept.data["body"] == {"targetId": 2001, "referenceId": 5001}
    assert reject.handler.func.service is services.invite_reject
    assert reject.data["body"] == {"targetId": 2001, "originatorId": 1001}
    assert reject.data["transactionId"] == uuid.UUID(int=0)


def test_a_bad_field_outside_the_matching_body_does_not_matter():
    # given an ACCEPT whose body carries a wrongly typed originatorId (not an ACCEPT field)
    document = command("ACCEPT", originatorId="x")

    # when it is decoded
    decoded = decode_command(document)

    # then it is accepted, as upstream's per-type structs do
    assert decoded.error == ""
    assert "originatorId" not in decoded.data["body"]


def test_null_and_absent_fields_are_zero_values():
    # given a CREATE with nulls and a null body
    document = {
        "transactionId": None,
        "worldId": None,
        "inviteType": None,
        "type": "CREATE",
        "body": None,
    }

    # when it is decoded
    decoded = decode_command(document)

    # then every field has its Go zero value (the service will drop it: originator 0)
    assert decoded.error == ""
    assert decoded.data == {
        "transactionId": uuid.UUID(int=0),
        "worldId": 0,
        "inviteType": "",
        "type": "CREATE",
        "body": {"originatorId": 0, "targetId": 0, "referenceId": 0},
    }


def test_keys_match_case_insensitively_and_the_last_duplicate_wins():
    # given a CREATE with oddly cased keys and a repeated key
    raw = (
        b'{"TRANSACTIONID":"' + TX.upper().encode() + b'","WorldId":2,"INVITETYPE":"PARTY",'
        b'"Type":"CREATE","Body":{"OriginatorID":1,"targetid":2,"referenceId":3,"referenceId":4}}'
    )

    # when it is decoded
    decoded = decode_command(raw)

    # then the fields are found; the last referenceId wins
    assert decoded.error == ""
    assert decoded.data["transactionId"] == uuid.UUID(TX)
    assert decoded.data["worldId"] == 2
    assert decoded.data["body"] == {"originatorId": 1, "targetId": 2, "referenceId": 4}


@pytest.mark.parametrize(
    "text",
    [
        TX.upper(),
        TX.replace("-", ""),
        "{" + TX + "}",
        "urn:uuid:" + TX,
    ],
)
def test_transaction_id_accepts_the_go_uuid_forms(text):
    # when a CREATE carries the transaction id in another accepted form
    decoded = decode_command(command(transactionId=text))

    # then it decodes to the same UUID (re-emitted canonical lowercase)
    assert decoded.error == ""
    assert str(decoded.data["transactionId"]) == TX


def test_unknown_fields_are_ignored():
    decoded = decode_command(command(extra={"x": [1, 2]}, party="yes"))
    assert decoded.error == ""


def test_the_largest_uint32_is_accepted():
    decoded = decode_command(command(targetId=4294967295, worldId=255))
    assert decoded.error == ""
    assert decoded.data["body"]["targetId"] == 4294967295


# --- dead letters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b"5",
        b'"CREATE"',
        b'{"type":"CREATE"} trailing',
        b'{"type":"CREATE","worldId":NaN}',
        b"\xff\xfe",
    ],
)
def test_malformed_json_is_an_error(raw):
    decoded = decode_command(raw)
    assert decoded.error
    assert decoded.handler is None


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("targetId", "2001"),
        ("originatorId", 1.0),
        ("referenceId", 1e3),
        ("targetId", True),
        ("originatorId", -1),
        ("referenceId", 4294967296),
        ("worldId", 256),
        ("worldId", -1),
        ("worldId", "0"),
        ("inviteType", 5),
        ("inviteType", ["PARTY"]),
        ("transactionId", ""),
        ("transactionId", "not-a-uuid"),
        ("transactionId", 7),
        ("body", "x"),
        ("body", []),
        ("body", 5),
    ],
)
def test_wrong_types_in_the_matching_shape_are_errors(field, bad):
    # given a CREATE with one wrongly typed field
    document = command(**{field: bad})

    # when it is decoded
    decoded = decode_command(document)

    # then it is a dead letter naming the problem
    assert decoded.handler is None
    assert decoded.error.startswith("invalid CREATE message")
    assert field in decoded.error


def test_a_non_string_type_is_an_error():
    decoded = decode_command(command(type=5))
    assert decoded.error.startswith("'type' must be a JSON string")


@pytest.mark.parametrize("type_", ["create", "INVITE", "", None])
def test_an_unknown_command_type_is_an_error(type_):
    # given a command whose type is not CREATE/ACCEPT/REJECT (or missing)
    document = command()
    document["type"] = type_

    # when it is decoded
    decoded = decode_command(document)

    # then it is a dead letter (upstream ignores it; project decision)
    assert decoded.handler is None
    assert "unknown command type" in decoded.error


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [h for h in HEADERS if h[0] != "TENANT_ID"],
        [h for h in HEADERS if h[0] != "REGION"],
        [h for h in HEADERS if h[0] != "MINOR_VERSION"],
        [*HEADERS, ("MAJOR_VERSION", b"83x")],
        [*HEADERS, ("TENANT_ID", b"00000000-0000-0000-0000-000000000000")],
        [*HEADERS, ("TENANT_ID", b"ec876921c3634cc69c515bb8d57f9553")],
    ],
)
def test_missing_or_invalid_tenant_headers_are_an_error(headers):
    decoded = decode_command(command(), headers=headers)
    assert decoded.handler is None
    assert decoded.error.startswith("invalid tenant headers")


# --- character status events ----------------------------------------------------------


def test_a_character_deleted_event_decodes_to_its_handler():
    # when a DELETED event is decoded (body null is allowed)
    decoded = decode_character(deleted(body=None))

    # then it goes to the DELETED handler
    assert decoded.error == ""
    assert decoded.handler.func.service is services.invites_delete_for_character
    assert decoded.data["characterId"] == 2001
    assert decoded.tenant == TENANT


@pytest.mark.parametrize("type_", ["LOGIN", "MAP_CHANGED", "CREATED", "deleted", ""])
def test_other_character_event_types_are_skipped(type_):
    # given a character event the invites service does not act on, even without tenant
    document = deleted(type=type_, body={"channelId": "anything"})

    # when it is decoded
    decoded = decode_character(document, headers=[])

    # then it is skipped, not an error
    assert decoded.skipped
    assert decoded.error == ""


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("characterId", "2001"),
        ("characterId", -5),
        ("characterId", 2001.0),
        ("worldId", 256),
        ("transactionId", ""),
        ("body", "x"),
        ("body", []),
    ],
)
def test_a_malformed_deleted_event_is_an_error(field, bad):
    decoded = decode_character(deleted(**{field: bad}))
    assert decoded.handler is None
    assert decoded.error.startswith("invalid DELETED message")


def test_a_deleted_event_without_tenant_headers_is_an_error():
    decoded = decode_character(deleted(), headers=[])
    assert decoded.error.startswith("invalid tenant headers")


# --- produced events ------------------------------------------------------------------


def test_status_events_are_built_in_upstream_field_order():
    # when a status event is built and serialised
    built = messages.status_event(
        event_type=messages.EVENT_REJECTED,
        transaction_id=uuid.UUID("e4c1f7a0-2b3d-4c5e-8f9a-0b1c2d3e4f5a"),
        world_id=1,
        invite_type="BUDDY",
        reference_id=1001,
        originator_id=1001,
        target_id=2001,
    )

    # then the bytes are upstream's example, and the key is by reference
    assert wire.dumps(built) == (
        b'{"transactionId":"e4c1f7a0-2b3d-4c5e-8f9a-0b1c2d3e4f5a","worldId":1,'
        b'"inviteType":"BUDDY","referenceId":1001,"type":"REJECTED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )
    assert messages.status_key(5001).hex() == "8913000000000000"
    assert messages.status_key(9000).hex() == "2823000000000000"
    assert messages.status_key(0) == bytes(8)


def test_invite_types_with_html_characters_are_escaped_like_go():
    built = messages.status_event(
        event_type=messages.EVENT_CREATED,
        transaction_id=uuid.UUID(int=0),
        world_id=0,
        invite_type="A&B<C>",
        reference_id=1,
        originator_id=2,
        target_id=3,
    )
    assert b'"inviteType":"A\\u0026B\\u003cC\\u003e"' in wire.dumps(built)
