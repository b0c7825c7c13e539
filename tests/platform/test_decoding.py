"""``decoding.decode``: record bytes to a handler call, a skip, or a precise reason.

Uses the test-only echo consumer: PING on the command topic COMMAND_TOPIC_ECHO,
SEEN on the event topic EVENT_TOPIC_ECHO_INPUT.
"""

from __future__ import annotations

import uuid

import pytest

from project.messaging import registry, wire
from project.messaging.decoding import decode
from project.tenancy import TenantKey
from tests.echo import handlers as echo
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO_INPUT

TENANT = TenantKey(uuid.UUID("ec876921-c363-4cc6-9c51-5bb8d57f9553"), "GMS", 83, 1)
HEADERS = TENANT.kafka_headers()
TRANSACTION = "1f0c6f0e-2a51-4c5e-9a8e-0d6a4a2b9f10"


@pytest.fixture
def commands() -> registry.Subscription:
    return registry.get("echo").subscriptions[COMMAND_TOPIC_ECHO]


@pytest.fixture
def events() -> registry.Subscription:
    return registry.get("echo").subscriptions[EVENT_TOPIC_ECHO_INPUT]


def test_the_echo_subscriptions_are_one_command_and_one_event_topic(commands, events):
    assert (commands.kind, sorted(commands.handlers)) == (
        "command",
        ["DOOMED", "DOOMED_LOOKUP", "LOOKUP", "PING"],
    )
    assert (events.kind, sorted(events.handlers)) == ("event", ["SEEN"])


def test_a_valid_command_names_its_handler_tenant_and_data(commands):
    # given a PING with tenant headers
    value = (
        b'{"transactionId":"' + TRANSACTION.encode() + b'","type":"PING",'
        b'"body":{"id":5001,"seq":2,"fail":false}}'
    )

    # when decoded
    decoded = decode(commands, HEADERS, value)

    # then it goes to the PING handler with the typed data and the tenant
    assert decoded.error == ""
    assert not decoded.skipped
    assert decoded.type == "PING"
    assert decoded.handler is commands.handlers["PING"]
    assert decoded.handler.func is echo.on_ping
    assert decoded.tenant == TENANT
    assert decoded.data == {
        "transactionId": uuid.UUID(TRANSACTION),
        "type": "PING",
        "body": {
            "id": 5001,
            "seq": 2,
            "fail": False,
            "broken": False,
            "refuse": False,
            "hang": False,
            "unanswerable": False,
        },
    }


def test_a_valid_event_names_its_handler(events):
    decoded = decode(events, HEADERS, b'{"characterId":7,"type":"SEEN"}')

    assert decoded.handler.func is echo.on_seen
    assert decoded.data == {"characterId": 7, "type": "SEEN"}
    assert decoded.tenant == TENANT


def test_the_type_key_matches_case_insensitively_last_one_winning(commands):
    decoded = decode(commands, HEADERS, b'{"type":"NOPE","TYPE":"PING"}')

    assert decoded.type == "PING"
    assert decoded.handler is commands.handlers["PING"]


def test_an_unknown_command_type_is_an_error(commands):
    decoded = decode(commands, HEADERS, b'{"type":"PONG","body":{}}')

    assert decoded.error == "unknown command type 'PONG' on COMMAND_TOPIC_ECHO"
    assert decoded.type == "PONG"
    assert decoded.handler is None
    assert not decoded.skipped


@pytest.mark.parametrize("value", [b"{}", b'{"type":null}', b'{"body":{"id":1}}'])
def test_a_command_without_type_is_an_unknown_command_type(commands, value):
    decoded = decode(commands, HEADERS, value)

    assert decoded.error == "unknown command type '' on COMMAND_TOPIC_ECHO"
    assert decoded.type == ""


@pytest.mark.parametrize("value", [b'{"type":"MAP_CHANGED","characterId":1}', b"{}"])
def test_an_event_type_the_app_does_not_act_on_is_skipped(events, value):
    decoded = decode(events, HEADERS, value)

    assert decoded.skipped
    assert decoded.error == ""
    assert decoded.handler is None
    assert decoded.data is None


def test_an_unknown_event_type_is_skipped_even_without_tenant_headers(events):
    # it is meant for other consumers: its headers are none of our business
    decoded = decode(events, [], b'{"type":"MAP_CHANGED"}')

    assert decoded.skipped


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("5", "5"), ("true", "True"), ("[]", "[]"), ('{"a":1}', "{'a': 1}"), ("1.5", "1.5")],
)
def test_a_type_that_is_not_a_string_is_an_error_on_either_topic(commands, events, literal, shown):
    for subscription in (commands, events):
        decoded = decode(subscription, HEADERS, f'{{"type":{literal}}}'.encode())

        assert decoded.error == f"'type' must be a JSON string, got {shown}"
        assert decoded.handler is None
        assert not decoded.skipped


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([], "invalid tenant headers: missing TENANT_ID header"),
        (
            [(n, b"83" + b"\x00" if n == "MINOR_VERSION" else v) for n, v in HEADERS],
            "invalid tenant headers: MINOR_VERSION header must be 2 big-endian bytes, got 3 bytes",
        ),
        (
            [(n, b"" if n == "REGION" else v) for n, v in HEADERS],
            "invalid tenant headers: missing or empty REGION header",
        ),
    ],
)
def test_bad_tenant_headers_on_a_handled_type_are_an_error_naming_the_header(
    commands, events, headers, reason
):
    for subscription, value in (
        (commands, b'{"type":"PING"}'),
        (events, b'{"type":"SEEN"}'),
    ):
        decoded = decode(subscription, headers, value)

        assert decoded.error == reason
        assert decoded.handler is None
        assert decoded.tenant is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"type":"PING","body":{"id":-1}}', "invalid PING message: body.id: -1 is out of range"),
        (b'{"type":"PING","body":{"id":7.0}}', "invalid PING message: body.id: must be a JSON"),
        (b'{"type":"PING","body":"x"}', "invalid PING message: body: must be a JSON object"),
        (b'{"type":"PING","transactionId":""}', "invalid PING message: transactionId: invalid"),
        (
            b'{"type":"PING","transactionId":"","body":{"fail":1}}',
            "invalid PING message: transactionId: invalid UUID ''; body.fail: must be true",
        ),
    ],
)
def test_a_body_that_does_not_fit_the_schema_is_an_error_with_field_paths(commands, value, reason):
    decoded = decode(commands, HEADERS, value)

    assert decoded.error.startswith(reason)
    assert decoded.type == "PING"
    assert decoded.handler is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty record value"),
        (b"", "empty record value"),
        (b'{"type":"PING",', "invalid JSON"),
        (b"[1]", "JSON value must be an object, got list"),
        (b'{"type":"PING","body":{"id":NaN}}', "invalid JSON: NaN is not allowed"),
        (b'{"type":"PING","body":{"id":' + b"9" * 5000 + b"}}", "invalid JSON"),
        (b"\xff", "record value is not UTF-8"),
    ],
)
def test_undecodable_values_are_errors_not_exceptions(commands, events, value, reason):
    for subscription in (commands, events):
        decoded = decode(subscription, HEADERS, value)

        assert decoded.error.startswith(reason)
        assert decoded.type == ""
        assert not decoded.skipped


def test_decoding_is_the_same_for_the_bridge_and_the_worker(commands):
    # the worker decodes the stored row again: same bytes, same answer
    value = wire.dumps({"transactionId": TRANSACTION, "type": "PING", "body": {"id": 1}})

    first = decode(commands, HEADERS, value)
    second = decode(commands, list(HEADERS), bytes(value))

    assert first == second
