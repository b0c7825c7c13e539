"""The bytes on Kafka that are not one app's JSON: keys, headers, trace, topics, JSON rules.

Expectations are the byte-exact values upstream's Go code produces and reads
(verified against it).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from project import tenancy
from project.messaging import wire
from project.tenancy import InvalidTenant, TenantKey

TENANT_UUID = uuid.UUID("ec876921-c363-4cc6-9c51-5bb8d57f9553")


def kafka_tenant_headers(**overrides: bytes | None) -> list[tuple[str, bytes | None]]:
    """A valid GMS v83.1 header set; an override of ``None`` drops that header."""
    values: dict[str, bytes | None] = {
        "TENANT_ID": str(TENANT_UUID).encode(),
        "REGION": b"GMS",
        "MAJOR_VERSION": b"\x00\x53",
        "MINOR_VERSION": b"\x00\x01",
    }
    values.update(overrides)
    return [(name, value) for name, value in values.items() if value is not None]


# --- keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected_hex"),
    [
        (5001, "8913000000000000"),
        (9000, "2823000000000000"),
        (1, "0100000000000000"),
        (1_000_000_000, "00ca9a3b00000000"),
        (0, "0000000000000000"),
        (0xFFFFFFFF, "ffffffff00000000"),
    ],
)
def test_key_u32_is_little_endian_uint32_then_four_zero_bytes(value, expected_hex):
    # when an id becomes a key
    key = wire.key_u32(value)

    # then it is upstream's CreateKey bytes
    assert key.hex() == expected_hex
    assert len(key) == 8


@pytest.mark.parametrize("value", [-1, 2**32, 2**40])
def test_key_u32_rejects_values_outside_uint32(value):
    with pytest.raises(ValueError, match="is not a uint32"):
        wire.key_u32(value)


def test_key_text_is_the_ascii_of_the_canonical_uuid():
    route = uuid.UUID("388B7A6A-77E7-5367-8170-D95A4A1A5741")

    assert wire.key_text(route) == b"388b7a6a-77e7-5367-8170-d95a4a1a5741"
    assert wire.key_text("saga-1") == b"saga-1"


# --- tenant headers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "minor", "major_hex", "minor_hex"),
    [(83, 1, "0053", "0001"), (185, 1, "00b9", "0001"), (0, 65535, "0000", "ffff")],
)
def test_kafka_headers_carry_versions_as_two_big_endian_bytes(major, minor, major_hex, minor_hex):
    # given a tenant
    tenant = TenantKey(TENANT_UUID, "GMS", major, minor)

    # when it becomes Kafka headers
    headers = tenant.kafka_headers()

    # then the names are upstream's, in this order, the id is canonical text, versions binary
    assert [name for name, _ in headers] == [
        "TENANT_ID",
        "REGION",
        "MAJOR_VERSION",
        "MINOR_VERSION",
    ]
    values = dict(headers)
    assert values["TENANT_ID"] == b"ec876921-c363-4cc6-9c51-5bb8d57f9553"
    assert len(values["TENANT_ID"]) == 36
    assert values["REGION"] == b"GMS"
    assert values["MAJOR_VERSION"].hex() == major_hex
    assert values["MINOR_VERSION"].hex() == minor_hex


def test_kafka_headers_of_an_uppercase_uuid_are_lowercase():
    tenant = TenantKey(uuid.UUID(str(TENANT_UUID).upper()), "JMS", 185, 1)

    assert dict(tenant.kafka_headers())["TENANT_ID"] == str(TENANT_UUID).encode()


def test_http_headers_carry_versions_as_decimal_text():
    tenant = TenantKey(TENANT_UUID, "GMS", 83, 1)

    assert tenant.http_headers() == {
        "TENANT_ID": "ec876921-c363-4cc6-9c51-5bb8d57f9553",
        "REGION": "GMS",
        "MAJOR_VERSION": "83",
        "MINOR_VERSION": "1",
    }


def test_tenant_json_and_text_forms():
    tenant = TenantKey(TENANT_UUID, "GMS", 83, 1)

    assert json.dumps(tenant.as_json(), separators=(",", ":")) == (
        '{"id":"ec876921-c363-4cc6-9c51-5bb8d57f9553","region":"GMS",'
        '"majorVersion":83,"minorVersion":1}'
    )
    assert str(tenant) == "ec876921-c363-4cc6-9c51-5bb8d57f9553:GMS:83.1"


def test_from_kafka_headers_reads_what_kafka_headers_wrote():
    tenant = TenantKey(TENANT_UUID, "GMS", 185, 7)

    assert tenancy.from_kafka_headers(tenant.kafka_headers()) == tenant


def test_from_kafka_headers_accepts_an_uppercase_uuid_and_ignores_other_headers():
    # given an upper-case id among unrelated headers
    headers = [
        ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        *kafka_tenant_headers(TENANT_ID=str(TENANT_UUID).upper().encode()),
        ("ENVIRONMENT", b"main"),
    ]

    # when decoded
    tenant = tenancy.from_kafka_headers(headers)

    # then the tenant is the canonical one
    assert tenant == TenantKey(TENANT_UUID, "GMS", 83, 1)
    assert str(tenant.id) == "ec876921-c363-4cc6-9c51-5bb8d57f9553"


def test_from_kafka_headers_last_repeated_header_wins():
    other = uuid.uuid4()
    headers = [
        *kafka_tenant_headers(),
        ("TENANT_ID", str(other).encode()),
        ("REGION", b"JMS"),
        ("MAJOR_VERSION", b"\x00\xb9"),
    ]

    assert tenancy.from_kafka_headers(headers) == TenantKey(other, "JMS", 185, 1)


def test_ascii_version_text_of_two_bytes_is_read_as_big_endian_like_go():
    # given the decimal text "83" where two binary bytes belong
    headers = kafka_tenant_headers(MAJOR_VERSION=b"83")

    # then it is two bytes, so it decodes, to the number Go gets
    assert tenancy.from_kafka_headers(headers).major == 14387


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"TENANT_ID": None}, "missing TENANT_ID header"),
        ({"TENANT_ID": b""}, "TENANT_ID header must be 36 bytes, got 0"),
        (
            {"TENANT_ID": str(TENANT_UUID)[:35].encode()},
            "TENANT_ID header must be 36 bytes, got 35",
        ),
        ({"TENANT_ID": TENANT_UUID.hex.encode()}, "TENANT_ID header must be 36 bytes, got 32"),
        ({"TENANT_ID": b"z" * 36}, "TENANT_ID header is not a UUID"),
        ({"TENANT_ID": b"urn:" + TENANT_UUID.hex.encode()}, "TENANT_ID header is not a UUID"),
        ({"TENANT_ID": b"----" + TENANT_UUID.hex.encode()}, "TENANT_ID header is not a UUID"),
        ({"TENANT_ID": b"\xff" * 36}, "TENANT_ID header is not a UUID"),
        (
            {"TENANT_ID": b"00000000-0000-0000-0000-000000000000"},
            "TENANT_ID header is the nil UUID",
        ),
        ({"REGION": None}, "missing or empty REGION header"),
        ({"REGION": b""}, "missing or empty REGION header"),
        ({"REGION": b"\xff"}, "REGION header is not UTF-8"),
        ({"MAJOR_VERSION": None}, "missing MAJOR_VERSION header"),
        ({"MINOR_VERSION": None}, "missing MINOR_VERSION header"),
        (
            {"MAJOR_VERSION": b"\x53"},
            "MAJOR_VERSION header must be 2 big-endian bytes, got 1 bytes",
        ),
        (
            {"MINOR_VERSION": b"\x00\x00\x01"},
            "MINOR_VERSION header must be 2 big-endian bytes, got 3",
        ),
        ({"MAJOR_VERSION": b"083"}, "MAJOR_VERSION header must be 2 big-endian bytes, got 3"),
        ({"MAJOR_VERSION": b""}, "MAJOR_VERSION header must be 2 big-endian bytes, got 0"),
    ],
)
def test_from_kafka_headers_rejects_bad_tenant_headers_precisely(overrides, message):
    # given a header set with one bad header
    headers = kafka_tenant_headers(**overrides)

    # then decoding says exactly what is wrong
    with pytest.raises(InvalidTenant) as caught:
        tenancy.from_kafka_headers(headers)
    assert str(caught.value).startswith(message)


def test_from_kafka_headers_treats_a_none_value_as_empty():
    with pytest.raises(InvalidTenant, match="missing or empty REGION header"):
        tenancy.from_kafka_headers([*kafka_tenant_headers(REGION=b"GMS"), ("REGION", None)])


def test_from_kafka_headers_of_no_headers_is_an_error_not_the_zero_tenant():
    with pytest.raises(InvalidTenant, match="missing TENANT_ID"):
        tenancy.from_kafka_headers([])


def test_from_http_headers_reads_decimal_versions_and_any_name_case():
    # given HTTP-style headers, as a client or a proxy may spell them
    headers = {
        "Tenant-Id": str(TENANT_UUID).upper(),
        "region": "GMS",
        "MAJOR_VERSION": "83",
        "minor_version": "1",
    }

    # then they make the same tenant as the Kafka form
    assert tenancy.from_http_headers(headers) == TenantKey(TENANT_UUID, "GMS", 83, 1)


def test_from_http_headers_round_trips_http_headers():
    tenant = TenantKey(TENANT_UUID, "JMS", 185, 65535)

    assert tenancy.from_http_headers(tenant.http_headers()) == tenant


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"TENANT_ID": None}, "missing tenant header"),
        ({"TENANT_ID": "nope"}, "not a UUID"),
        ({"TENANT_ID": "{0838-39c6c47c42a6958576492795d123}"}, "not a UUID"),
        ({"TENANT_ID": "00000000-0000-0000-0000-000000000000"}, "nil UUID"),
        ({"MAJOR_VERSION": "x83"}, "invalid version header"),
        ({"MAJOR_VERSION": "8_3"}, "invalid version header"),
        ({"MINOR_VERSION": None}, "missing tenant header"),
        ({"REGION": ""}, "missing tenant header"),
        ({"REGION": "GM\xff"}, "not UTF-8"),
        ({"MAJOR_VERSION": "65536"}, "version out of range"),
        ({"MINOR_VERSION": "-1"}, "version out of range"),
    ],
)
def test_from_http_headers_rejects_bad_headers(change, message):
    headers = TenantKey(TENANT_UUID, "GMS", 83, 1).http_headers()
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value

    with pytest.raises(InvalidTenant, match=message):
        tenancy.from_http_headers(headers)


# --- header lookup and environment ----------------------------------------------------


def test_header_returns_the_last_value_and_none_when_absent():
    headers = [("ENVIRONMENT", b"a"), ("X", b"1"), ("ENVIRONMENT", b"b"), ("Y", None)]

    assert wire.header(headers, "ENVIRONMENT") == b"b"
    assert wire.header(headers, "Y") == b""
    assert wire.header(headers, "environment") is None


def test_environment_from_headers():
    assert wire.environment_from([("ENVIRONMENT", b"pr-123")]) == "pr-123"
    assert wire.environment_from([("ENVIRONMENT", b"")]) == ""
    assert wire.environment_from([]) == ""


# --- trace context --------------------------------------------------------------------

VALID_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("raw", [VALID_TRACEPARENT, VALID_TRACEPARENT.encode()])
def test_traceparent_parses_the_w3c_form(raw):
    parent = wire.TraceParent.parse(raw)

    assert parent == wire.TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")
    assert str(parent) == VALID_TRACEPARENT


def test_traceparent_keeps_unsampled_flags():
    parent = wire.TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")

    assert parent.flags == "00"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "garbage",
        VALID_TRACEPARENT[:-1],  # flags one digit short
        VALID_TRACEPARENT + "0",  # one digit too many
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # trace id 31 digits
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  # span id 15 digits
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper-case hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  # not hex
        b"\xff\xfe",
    ],
)
def test_traceparent_invalid_values_are_treated_as_absent(raw):
    assert wire.TraceParent.parse(raw) is None


def test_traceparent_child_keeps_trace_and_flags_with_a_new_span():
    parent = wire.TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")

    children = [parent.child() for _ in range(20)]

    for child in children:
        assert child.trace_id == parent.trace_id
        assert child.flags == "00"
        assert child.span_id != parent.span_id
        assert wire.TraceParent.parse(str(child)) == child
    assert len({child.span_id for child in children}) == 20


def test_traceparent_root_is_a_valid_sampled_trace():
    roots = [wire.TraceParent.root() for _ in range(20)]

    for root in roots:
        assert wire.TraceParent.parse(str(root)) == root
        assert root.flags == "01"
    assert len({root.trace_id for root in roots}) == 20


def test_outbound_headers_are_trace_then_tenant_then_environment():
    # given a cause with an environment and a trace
    tenant = TenantKey(TENANT_UUID, "GMS", 83, 1).kafka_headers()
    parent = wire.TraceParent.parse(VALID_TRACEPARENT)

    # when the headers of a produced record are built
    headers = wire.outbound_headers(tenant, environment="main", trace=parent)

    # then: traceparent (a child span), the tenant headers, then ENVIRONMENT
    assert [name for name, _ in headers] == [
        "traceparent",
        "TENANT_ID",
        "REGION",
        "MAJOR_VERSION",
        "MINOR_VERSION",
        "ENVIRONMENT",
    ]
    assert headers[1:5] == tenant
    assert headers[5] == ("ENVIRONMENT", b"main")
    child = wire.TraceParent.parse(headers[0][1])
    assert child.trace_id == parent.trace_id
    assert child.span_id != parent.span_id


def test_outbound_headers_omit_empty_environment_and_missing_trace():
    tenant = TenantKey(TENANT_UUID, "GMS", 83, 1).kafka_headers()

    assert wire.outbound_headers(tenant, environment="", trace=None) == tenant
    with_trace = wire.outbound_headers(tenant, environment="", trace=wire.TraceParent.root())
    assert [name for name, _ in with_trace] == ["traceparent"] + [n for n, _ in tenant]
    assert wire.outbound_headers(tenant, environment="pr-1", trace=None) == [
        *tenant,
        ("ENVIRONMENT", b"pr-1"),
    ]


# --- topics ---------------------------------------------------------------------------


@pytest.fixture
def fresh_topic_cache():
    wire.topic_name.cache_clear()
    yield
    wire.topic_name.cache_clear()


def test_topic_name_is_the_env_var_of_the_token(monkeypatch, fresh_topic_cache):
    monkeypatch.setenv("EVENT_TOPIC_PLATFORM_TEST", "EVENT_TOPIC_PLATFORM_TEST-main")

    assert wire.topic_name("EVENT_TOPIC_PLATFORM_TEST") == "EVENT_TOPIC_PLATFORM_TEST-main"


def test_topic_name_unset_or_empty_is_the_token(monkeypatch, fresh_topic_cache):
    monkeypatch.delenv("EVENT_TOPIC_PLATFORM_UNSET", raising=False)
    monkeypatch.setenv("EVENT_TOPIC_PLATFORM_EMPTY", "")

    assert wire.topic_name("EVENT_TOPIC_PLATFORM_UNSET") == "EVENT_TOPIC_PLATFORM_UNSET"
    assert wire.topic_name("EVENT_TOPIC_PLATFORM_EMPTY") == "EVENT_TOPIC_PLATFORM_EMPTY"


def test_topic_name_is_resolved_once_per_process(monkeypatch, fresh_topic_cache):
    # given a resolved token
    monkeypatch.setenv("EVENT_TOPIC_PLATFORM_TEST", "first")
    assert wire.topic_name("EVENT_TOPIC_PLATFORM_TEST") == "first"

    # when the environment changes later
    monkeypatch.setenv("EVENT_TOPIC_PLATFORM_TEST", "second")

    # then the cached answer stays until the cache is cleared
    assert wire.topic_name("EVENT_TOPIC_PLATFORM_TEST") == "first"
    wire.topic_name.cache_clear()
    assert wire.topic_name("EVENT_TOPIC_PLATFORM_TEST") == "second"


# --- JSON in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "empty record value"),
        (b"", "empty record value"),
        (b'{"type":"\xff"}', "record value is not UTF-8"),
        (b"\xef\xbb\xbf{}", "invalid JSON"),  # a BOM: Go rejects it too
        (b'{"type":"PING"} x', "invalid JSON"),
        (b'{"type":"PING"}{}', "invalid JSON"),
        (b'{"type":"PING",', "invalid JSON"),
        (b"{'type':'PING'}", "invalid JSON"),
        (b'{"a":NaN}', "NaN is not allowed"),
        (b'{"a":Infinity}', "Infinity is not allowed"),
        (b'{"a":-Infinity}', "-Infinity is not allowed"),
        (b'{"a":[1,{"b":NaN}]}', "NaN is not allowed"),
        (b"[1,2]", "JSON value must be an object, got list"),
        (b"7", "JSON value must be an object, got int"),
        (b'"x"', "JSON value must be an object, got str"),
        (b"null", "JSON value must be an object, got NoneType"),
        (b"true", "JSON value must be an object, got bool"),
        (b"[" * 100_000, "invalid JSON"),
        # Python refuses to convert ints this long (a plain ValueError, not a decode error)
        (b'{"id":' + b"1" * 5000 + b"}", "invalid JSON"),
    ],
)
def test_loads_rejects_what_go_would_not_decode_into_a_struct(raw, message):
    with pytest.raises(wire.WireError) as caught:
        wire.loads(raw)
    assert message in str(caught.value)


def test_loads_keeps_the_last_of_duplicate_keys_and_allows_whitespace():
    value = wire.loads(b' \n{"type":"A", "n": 1,\t"type":"B","n":2.5e3,"x":null} \r\n')

    assert value == {"type": "B", "n": 2500.0, "x": None}
    assert isinstance(value["n"], float)


def test_loads_decodes_escapes_and_raw_utf8():
    value = wire.loads('{"a":"\\u003c\\u00e9\\ud83d\\ude00","b":"é😀"}'.encode())

    assert value == {"a": "<é😀", "b": "é😀"}


def test_loads_turns_a_lone_surrogate_escape_into_the_replacement_character_like_go():
    # given escapes Go's decoder replaces with U+FFFD (there is no such character)
    value = wire.loads(b'{"a":"x\\ud800y","b":["\\udc00"],"\\ud83d":1,"c":"\\ud83d\\ude00"}')

    # then the strings are valid text that can be stored and encoded again
    assert value == {"a": "x\ufffdy", "b": ["\ufffd"], "\ufffd": 1, "c": "😀"}
    assert wire.dumps(value) == '{"a":"x\ufffdy","b":["\ufffd"],"\ufffd":1,"c":"😀"}'.encode()


# --- JSON out -------------------------------------------------------------------------


def test_dumps_is_compact_and_keeps_key_order():
    value = {"transactionId": "t", "worldId": 0, "characterId": 12345, "type": "X", "body": {}}

    assert wire.dumps(value) == (
        b'{"transactionId":"t","worldId":0,"characterId":12345,"type":"X","body":{}}'
    )
    assert wire.dumps({"b": 1, "a": [True, False, None, 1.5]}) == (
        b'{"b":1,"a":[true,false,null,1.5]}'
    )


def test_dumps_escapes_like_go_and_writes_other_non_ascii_raw():
    value = {"m": '<b>&</b>\u2028\u2029é中😀"\\\n\t\x01'}

    assert wire.dumps(value) == (
        b'{"m":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e\\u2028\\u2029'
        + "é中😀".encode()
        + b'\\"\\\\\\n\\t\\u0001"}'
    )


def test_dumps_escapes_keys_too_and_round_trips_through_loads():
    value = {"<k>": "a&b", "n": [1, {"x": "\u2028"}]}

    raw = wire.dumps(value)

    assert raw == b'{"\\u003ck\\u003e":"a\\u0026b","n":[1,{"x":"\\u2028"}]}'
    assert wire.loads(raw) == value


def test_dumps_refuses_nan():
    with pytest.raises(ValueError):
        wire.dumps({"a": float("nan")})


# --- time -----------------------------------------------------------------------------

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2024-01-02T03:04:05.12Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC), "2024-01-02T03:04:05.000001Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "2024-01-02T03:04:05.123456Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), "2024-01-02T03:04:05.5Z"),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-01-02T03:04:05+02:00",
        ),
        (
            dt.datetime(
                2024, 1, 2, 3, 4, 5, 100, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))
            ),
            "2024-01-02T03:04:05.0001-05:30",
        ),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(-dt.timedelta(minutes=30))),
            "2024-01-02T03:04:05-00:30",
        ),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(0), "X")),
            "2024-01-02T03:04:05Z",
        ),
        (dt.datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_go_time_is_rfc3339nano_with_trailing_zeros_trimmed(value, expected):
    assert wire.go_time(value) == expected


def test_go_time_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="naive"):
        wire.go_time(dt.datetime(2024, 1, 2, 3, 4, 5))
