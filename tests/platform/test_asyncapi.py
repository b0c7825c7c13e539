"""The AsyncAPI document (project.messaging.asyncapi) against the registry and the builders.

docs/asyncapi.yaml is what ``manage.py asyncapi`` writes today; the document keeps
AsyncAPI 3's structural rules (every reference resolves, an operation's messages
belong to its channel, payloads are valid JSON Schema); every subscription's types
and every produced topic are in it; and a record built by each declared producer's
builder matches its declaration, field for field and in order.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import jsonschema as validator
import yaml

from invites import messages as invite_messages
from messengers import messages as messenger_messages
from notes import messages as note_messages
from parties import messages as party_messages
from project.messaging import asyncapi, registry
from project.messaging.jsonschema import schema_of
from project.messaging.management.commands.asyncapi import every_service_document
from transport import messages as transport_messages

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
NOTE_STATUS = "EVENT_TOPIC_NOTE_STATUS"
SERVICES = ["invites", "parties", "messengers", "notes", "transport"]


def _committed() -> dict:
    return yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))


def _resolve(document: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        assert part in node, ref
        node = node[part]
    return node


def test_docs_asyncapi_yaml_is_what_the_command_writes_today():
    """Regenerate with ``manage.py asyncapi --output docs/asyncapi.yaml`` (docs/api.md)."""
    assert COMMITTED.read_text(encoding="utf-8") == every_service_document()


def test_the_document_keeps_asyncapi_3_structure():
    document = _committed()
    assert document["asyncapi"] == "3.0.0"
    assert set(document["info"]) >= {"title", "version"}
    for token, channel in document["channels"].items():
        assert channel["address"] == token
        for message in channel["messages"].values():
            _resolve(document, message["$ref"])
    for name, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel_ref = operation["channel"]["$ref"]
        _resolve(document, channel_ref)
        for message in operation["messages"]:
            # AsyncAPI 3: an operation's messages are references into its channel's.
            assert message["$ref"].startswith(channel_ref + "/messages/"), name
            _resolve(document, message["$ref"])
    for name, message in document["components"]["messages"].items():
        assert set(message) >= {"name", "payload", "headers"}, name
        for schema in (message["payload"], message["headers"]):
            validator.Draft7Validator.check_schema(schema)
            assert schema["type"] == "object"


def test_every_subscription_and_produced_topic_is_in_the_document():
    document = _committed()
    operations = document["operations"]
    for app in SERVICES:
        consumer = registry.get(app)
        for subscription in consumer.subscriptions.values():
            operation = operations[f"{app}.receive.{subscription.token}"]
            named = {_resolve(document, m["$ref"])["$ref"] for m in operation["messages"]}
            types = {_resolve(document, ref)["name"] for ref in named}
            assert types == set(subscription.handlers), (app, subscription.token)
            assert operation["bindings"]["kafka"]["groupId"]["enum"] == [consumer.default_group]
        for token in consumer.produces:
            operation = operations[f"{app}.send.{token}"]
            assert operation["messages"], (app, token)  # declared in PRODUCED_MESSAGES


def test_a_consumed_message_is_documented_as_read():
    """Go's rules: nothing required, null allowed, unknown members allowed."""
    document = _committed()
    message = document["components"]["messages"]["invites.COMMAND_TOPIC_INVITE.CREATE"]
    payload = message["payload"]
    assert payload["properties"]["type"] == {"const": "CREATE"}
    assert payload["properties"]["worldId"] == {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 255,
    }
    assert (
        payload["properties"]["inviteType"]["maxLength"] == invite_messages.INVITE_TYPE_MAX_LENGTH
    )
    assert "required" not in payload
    body = payload["properties"]["body"]
    assert list(body["properties"]) == ["originatorId", "targetId", "referenceId"]


def _conforms(value: dict, schema) -> None:
    """``value`` is valid against the declaration as written, keys in its order."""
    declared = schema_of(schema, writing=True)
    validator.validate(json.loads(json.dumps(value)), declared)
    _same_order(value, declared)


def _same_order(value, declared: dict) -> None:
    if isinstance(value, dict):
        assert list(value) == list(declared["properties"]), (
            list(value),
            list(declared["properties"]),
        )
        for key, item in value.items():
            _same_order(item, declared["properties"][key])
    elif isinstance(value, list):
        for item in value:
            _same_order(item, declared["items"])


def _parties() -> dict[tuple[str, str, str], dict]:
    m = party_messages
    status = {"actor_id": 1, "world_id": 0, "party_id": 7}
    bodies = {
        "CREATED": {},
        "JOINED": {},
        "LEFT": {},
        "EXPEL": m.expel_body(3),
        "DISBAND": m.disband_body([1, 3]),
        "CHANGE_LEADER": m.change_leader_body(3),
        "ERROR": m.error_body(m.ERROR_UNEXPECTED, "Alpha"),
    }
    built = {
        ("parties", m.EVENT_TOPIC_PARTY_STATUS, t): m.status_event(
            event_type=t, body=body, **status
        )
        for t, body in bodies.items()
    }
    member = {"world_id": 0, "party_id": 7, "character_id": 3}
    member_bodies = {
        "LOGIN": {},
        "LOGOUT": {},
        "LEVEL_CHANGED": m.level_changed_body(9, 10, "Alpha"),
        "JOB_CHANGED": m.job_changed_body(100, 110, "Alpha"),
        "NAME_CHANGED": m.name_changed_body("Alpha", "Bravo"),
    }
    members = {
        t: m.member_status_event(event_type=t, body=body, **member)
        for t, body in member_bodies.items()
    }
    return {
        **built,
        **{("parties", m.EVENT_TOPIC_PARTY_MEMBER_STATUS, t): v for t, v in members.items()},
        ("parties", m.COMMAND_TOPIC_INVITE, "CREATE"): m.invite_command(
            world_id=0, originator_id=1, target_id=3, party_id=7
        ),
        ("parties", m.COMMAND_TOPIC_PARTY, "CREATE"): m.create_command(actor_id=1),
        ("parties", m.COMMAND_TOPIC_PARTY, "JOIN"): m.join_command(actor_id=1, party_id=7),
        ("parties", m.COMMAND_TOPIC_PARTY, "LEAVE"): m.leave_command(actor_id=1, party_id=7),
        ("parties", m.COMMAND_TOPIC_PARTY, "CHANGE_LEADER"): m.change_leader_command(
            actor_id=1, party_id=7, leader_id=3
        ),
    }


def _messengers(tx: uuid.UUID) -> dict[tuple[str, str, str], dict]:
    m = messenger_messages
    status = {"transaction_id": tx, "actor_id": 1, "world_id": 0, "messenger_id": 7}
    bodies = {
        "CREATED": m.created_body(),
        "JOINED": m.slot_body(1),
        "LEFT": m.slot_body(1),
        "ERROR": m.error_body(m.ERROR_FULL, "Alpha"),
    }
    built = {
        ("messengers", m.EVENT_TOPIC_MESSENGER_STATUS, t): m.status_event(
            event_type=t, body=body, **status
        )
        for t, body in bodies.items()
    }
    for t in ("LOGIN", "LOGOUT"):
        built["messengers", m.EVENT_TOPIC_MESSENGER_MEMBER_STATUS, t] = m.member_status_event(
            event_type=t, transaction_id=tx, world_id=0, messenger_id=7, character_id=3
        )
    built["messengers", m.COMMAND_TOPIC_INVITE, "CREATE"] = m.invite_command(
        transaction_id=tx, world_id=0, originator_id=1, target_id=3, messenger_id=7
    )
    for t in ("JOIN", "LEAVE"):
        built["messengers", m.COMMAND_TOPIC_MESSENGER, t] = m.member_command(
            command_type=t, transaction_id=tx, actor_id=3, messenger_id=7
        )
    return built


def _transport(now: dt.datetime) -> dict[tuple[str, str, str], dict]:
    m = transport_messages
    route, instance = uuid.uuid4(), uuid.uuid4()
    built = {}
    for t in (m.ARRIVED, m.DEPARTED):
        built["transport", m.EVENT_TOPIC_TRANSPORT_STATUS, t] = m.route_status(
            route_id=route, event_type=t, map_id=100
        )
    for t in (m.VOYAGE_DEPARTED, m.VOYAGE_ARRIVED):
        built["transport", m.EVENT_TOPIC_TRANSPORT_STATUS, t] = m.voyage_status(
            route_id=route,
            event_type=t,
            voyage_id=uuid.uuid4(),
            world_id=0,
            channel_id=1,
            staging_map_id=1,
            en_route_map_ids=[2, 3],
            destination_map_id=4,
            observation_map_id=5,
            departed_at=now,
        )
    bodies = {
        m.STARTED: m.started_body(route_id=route, instance_id=instance),
        m.COMPLETED: m.completed_body(route_id=route, instance_id=instance),
        m.CANCELLED: m.cancelled_body(route_id=route, instance_id=instance, reason="STUCK"),
        m.TRANSIT_ENTERED: m.transit_entered_body(
            route_id=route, instance_id=instance, channel_id=1, duration_seconds=60, message="hi"
        ),
    }
    for t, body in bodies.items():
        built["transport", m.EVENT_TOPIC_INSTANCE_TRANSPORT, t] = m.instance_event(
            world_id=0, character_id=3, event_type=t, body=body
        )
    built["transport", m.COMMAND_TOPIC_CHARACTER, m.CHANGE_MAP] = m.change_map(
        world_id=0, character_id=3, channel_id=1, map_id=100, instance=instance, portal_id=0
    )
    for t in (m.APPLY_CONSUMABLE_EFFECT, m.CANCEL_CONSUMABLE_EFFECT):
        built["transport", m.COMMAND_TOPIC_CONSUMABLE, t] = m.consumable_effect(
            event_type=t, world_id=0, channel_id=1, character_id=3, item_id=2210016
        )
    return built


def test_each_declared_message_is_what_its_builder_writes():
    tx = uuid.uuid4()
    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    built = {
        ("invites", "EVENT_TOPIC_INVITE_STATUS", event): invite_messages.status_event(
            event_type=event,
            transaction_id=tx,
            world_id=1,
            invite_type="PARTY",
            reference_id=7,
            originator_id=8,
            target_id=9,
        )
        for event in ("CREATED", "ACCEPTED", "REJECTED")
    }
    note = {
        "character_id": 1,
        "note_id": 2,
        "sender_id": 3,
        "message": "hi",
        "flag": 0,
        "time": now,
    }
    built[("notes", NOTE_STATUS, "CREATED")] = note_messages.created_event(
        transaction_id=tx, **note
    )
    built[("notes", NOTE_STATUS, "UPDATED")] = note_messages.updated_event(**note)
    built[("notes", NOTE_STATUS, "DELETED")] = note_messages.deleted_event(
        character_id=1, note_id=2
    )
    built[("notes", NOTE_STATUS, "CREATE_FAILED")] = note_messages.create_failed_event(
        transaction_id=tx, character_id=1, sender_id=3, reason="full"
    )
    built[("notes", "COMMAND_TOPIC_SAGA", note_messages.SAGA_TYPE)] = note_messages.fame_saga(
        transaction_id=tx, sender_id=3, note_id=2, world_id=0, channel_id=1, now=now
    )
    built.update(_parties())
    built.update(_messengers(tx))
    built.update(_transport(now))
    declared = {
        (app, produced.token, type_): schema
        for app in SERVICES
        for produced in asyncapi.produced_messages(app)
        for type_, schema in produced.messages.items()
    }
    assert set(built) == set(declared)
    for name, value in built.items():
        _conforms(value, declared[name])
