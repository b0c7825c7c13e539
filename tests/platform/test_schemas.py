"""The Go-strict marshmallow fields: what ``encoding/json`` would accept into a typed struct.

Inputs go through ``wire.loads`` where the JSON literal matters (``1.0`` and ``1e3``
are floats only if the JSON says so), as they do in the bridge.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from marshmallow import ValidationError

from project.messaging import wire
from project.messaging.schemas import (
    I16,
    I32,
    U8,
    U16,
    U32,
    UUID,
    Bool,
    GoSchema,
    List,
    Object,
    Str,
    Time,
)


class Ints(GoSchema):
    u8 = U8()
    u16 = U16()
    u32 = U32()
    i16 = I16()
    i32 = I32()


class Scalars(GoSchema):
    name = Str()
    flag = Bool()
    id = UUID()
    at = Time()


class Inner(GoSchema):
    worldId = U8()
    name = Str()


class Envelope(GoSchema):
    transactionId = UUID()
    characterId = U32()
    type = Str()
    body = Object(Inner)
    members = List(U32())


def load(schema: type[GoSchema], raw: str) -> dict:
    return schema().load(wire.loads(raw.encode()))


def errors_of(schema: type[GoSchema], raw: str) -> dict:
    with pytest.raises(ValidationError) as caught:
        load(schema, raw)
    return caught.value.messages


# --- integers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("u8", 0),
        ("u8", 255),
        ("u16", 65535),
        ("u32", 4294967295),
        ("i16", -32768),
        ("i16", 32767),
        ("i32", -2147483648),
        ("i32", 2147483647),
    ],
)
def test_integers_in_range_are_accepted(field, value):
    assert load(Ints, f'{{"{field}":{value}}}')[field] == value


@pytest.mark.parametrize(
    ("field", "value", "go_type"),
    [
        ("u8", 256, "uint8"),
        ("u8", -1, "uint8"),
        ("u16", 65536, "uint16"),
        ("u16", -1, "uint16"),
        ("u32", 4294967296, "uint32"),
        ("u32", -1, "uint32"),
        ("i16", -32769, "int16"),
        ("i16", 32768, "int16"),
        ("i32", 2147483648, "int32"),
    ],
)
def test_integers_out_of_range_are_errors(field, value, go_type):
    messages = errors_of(Ints, f'{{"{field}":{value}}}')

    assert messages == {field: [f"{value} is out of range for {go_type}"]}


@pytest.mark.parametrize(
    "literal", ["1.0", "1e3", "1E3", "0.5", "-0.0", '"7"', '""', "true", "false", "[]", "{}"]
)
def test_integers_must_be_integer_literals(literal):
    # given a JSON value that Go refuses for an integer field
    messages = errors_of(Ints, f'{{"u32":{literal}}}')

    # then the field says what it wanted
    assert list(messages) == ["u32"]
    assert "must be a JSON integer (uint32)" in messages["u32"][0]


def test_bool_is_not_an_integer_even_though_python_says_so():
    with pytest.raises(ValidationError, match="must be a JSON integer"):
        Ints().load({"u8": True})


def test_null_and_absent_integers_are_zero():
    assert load(Ints, '{"u8":null,"i16":null}') == {"u8": 0, "u16": 0, "u32": 0, "i16": 0, "i32": 0}
    assert load(Ints, "{}") == {"u8": 0, "u16": 0, "u32": 0, "i16": 0, "i32": 0}


# --- strings and booleans -------------------------------------------------------------


@pytest.mark.parametrize("literal", ["1", "1.5", "true", "[]", "{}"])
def test_strings_must_be_json_strings(literal):
    messages = errors_of(Scalars, f'{{"name":{literal}}}')

    assert "must be a JSON string" in messages["name"][0]


def test_strings_null_or_absent_are_empty_and_text_is_kept():
    assert load(Scalars, '{"name":null}')["name"] == ""
    assert load(Scalars, "{}")["name"] == ""
    assert load(Scalars, '{"name":" <é> "}')["name"] == " <é> "


@pytest.mark.parametrize("literal", ["0", "1", '"true"', '""', "null"])
def test_booleans_must_be_true_or_false(literal):
    if literal == "null":
        assert load(Scalars, '{"flag":null}')["flag"] is False
        return
    messages = errors_of(Scalars, f'{{"flag":{literal}}}')

    assert "must be true or false" in messages["flag"][0]


def test_booleans_true_false_and_absent():
    assert load(Scalars, '{"flag":true}')["flag"] is True
    assert load(Scalars, '{"flag":false}')["flag"] is False
    assert load(Scalars, "{}")["flag"] is False


# --- UUIDs ----------------------------------------------------------------------------

CANONICAL = "ec876921-c363-4cc6-9c51-5bb8d57f9553"


@pytest.mark.parametrize(
    "text",
    [
        CANONICAL,
        CANONICAL.upper(),
        "Ec876921-C363-4cc6-9C51-5bb8d57f9553",
        CANONICAL.replace("-", ""),
        CANONICAL.replace("-", "").upper(),
        "{" + CANONICAL + "}",
        "{" + CANONICAL.upper() + "}",
        "urn:uuid:" + CANONICAL,
        "URN:UUID:" + CANONICAL.upper(),
    ],
)
def test_uuid_accepts_google_uuid_forms_and_gives_the_canonical_value(text):
    value = load(Scalars, f'{{"id":"{text}"}}')["id"]

    assert value == uuid.UUID(CANONICAL)
    assert str(value) == CANONICAL


def test_uuid_null_and_absent_are_the_nil_uuid():
    assert load(Scalars, '{"id":null}')["id"] == uuid.UUID(int=0)
    assert str(load(Scalars, "{}")["id"]) == "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nope",
        CANONICAL[:-1],
        CANONICAL + "0",
        CANONICAL.replace("-", "_"),
        "ec8769-21c363-4cc6-9c51-5bb8d57f9553",  # dashes in the wrong places
        CANONICAL.replace("e", "g"),
        "{" + CANONICAL + ")",
        "urn:uuid:" + CANONICAL.replace("-", ""),
        "uuid:" + CANONICAL,
        "0x" + "a" * 30,  # 32 characters that int(…, 16) would take
        "+" + "a" * 31,
        " " + "a" * 31,
        "a" * 31 + " ",
        "_" + "a" * 31,
        "{" + CANONICAL.replace("-", "") + "}--",
        "----" + CANONICAL.replace("-", ""),
        "urn:" + CANONICAL.replace("-", ""),
    ],
)
def test_uuid_rejects_other_strings(text):
    messages = errors_of(Scalars, f'{{"id":"{text}"}}')

    assert list(messages) == ["id"]
    assert "invalid UUID" in messages["id"][0]


@pytest.mark.parametrize("literal", ["1", "true", "[]", "{}"])
def test_uuid_must_be_a_string(literal):
    messages = errors_of(Scalars, f'{{"id":{literal}}}')

    assert "must be a UUID string" in messages["id"][0]


# --- times ----------------------------------------------------------------------------

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.12Z", dt.datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)),
        ("2024-01-02T03:04:05.1Z", dt.datetime(2024, 1, 2, 3, 4, 5, 100000, tzinfo=UTC)),
        ("2024-01-02T03:04:05.000001Z", dt.datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789Z", dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        (
            "2024-01-02T03:04:05.123456789123Z",
            dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        ),
        (
            "2024-01-02T03:04:05+02:00",
            dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC),
        ),
        (
            "2024-01-02T03:04:05.5-05:30",
            dt.datetime(2024, 1, 2, 8, 34, 5, 500000, tzinfo=UTC),
        ),
        ("2024-01-02T03:04:05-00:00", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", dt.datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_time_accepts_rfc3339_with_any_fraction_and_offset(text, expected):
    value = load(Scalars, f'{{"at":"{text}"}}')["at"]

    assert value == expected
    assert value.utcoffset() is not None


def test_time_keeps_the_offset_and_round_trips_through_go_time():
    value = load(Scalars, '{"at":"2024-01-02T03:04:05.12+02:00"}')["at"]

    assert value.utcoffset() == dt.timedelta(hours=2)
    assert wire.go_time(value) == "2024-01-02T03:04:05.12+02:00"


def test_time_null_and_absent_are_go_zero_time():
    zero = dt.datetime(1, 1, 1, tzinfo=UTC)

    assert load(Scalars, '{"at":null}')["at"] == zero
    assert load(Scalars, "{}")["at"] == zero
    assert wire.go_time(zero) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-01-02",
        "2024-01-02 03:04:05Z",  # a space instead of T
        "2024-01-02t03:04:05Z",
        "2024-01-02T03:04:05z",
        "2024-01-02T03:04:05",  # no offset
        "2024-01-02T03:04:05.123",
        "2024-01-02T03:04:05+0200",
        "2024-01-02T03:04:05+02",
        "2024-01-02T03:04:05+02:00:00",
        "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05,5Z",
        "2024-01-02T03:04:05Z ",
        " 2024-01-02T03:04:05Z",
        "2024-01-02T3:04:05Z",
        "2024-1-02T03:04:05Z",
        "2024-13-02T03:04:05Z",
        "2024-02-30T03:04:05Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T03:60:00Z",
        "2024-01-02T03:04:60Z",
        "2024-01-02T03:04:05+24:00",
        "2024-01-02T03:04:05+02:60",
        "2024-01-02T03:04:05.1x2Z",
        "\uff12\uff10\uff12\uff14-01-02T03:04:05Z",  # full-width digits
    ],
)
def test_time_rejects_what_go_rejects(text):
    messages = errors_of(Scalars, f'{{"at":"{text}"}}')

    assert list(messages) == ["at"]
    assert "RFC 3339" in messages["at"][0]


@pytest.mark.parametrize("literal", ["0", "1704164645", "true", "{}"])
def test_time_must_be_a_string(literal):
    messages = errors_of(Scalars, f'{{"at":{literal}}}')

    assert "RFC 3339" in messages["at"][0]


# --- nested objects and lists ---------------------------------------------------------


def test_nested_object_is_decoded_with_its_schema():
    value = load(Envelope, '{"body":{"worldId":3,"name":"x","extra":1}}')

    assert value["body"] == {"worldId": 3, "name": "x"}


def test_nested_object_null_or_absent_is_all_zero_fields():
    assert load(Envelope, '{"body":null}')["body"] == {"worldId": 0, "name": ""}
    assert load(Envelope, "{}")["body"] == {"worldId": 0, "name": ""}


@pytest.mark.parametrize("literal", ["[]", '"x"', "1", "true"])
def test_nested_object_must_be_an_object(literal):
    messages = errors_of(Envelope, f'{{"body":{literal}}}')

    assert "must be a JSON object" in messages["body"][0]


def test_nested_object_errors_name_the_inner_field():
    messages = errors_of(Envelope, '{"body":{"worldId":256}}')

    assert messages == {"body": {"worldId": ["256 is out of range for uint8"]}}


def test_list_items_are_checked_and_null_or_absent_is_empty():
    assert load(Envelope, '{"members":[1,2,3]}')["members"] == [1, 2, 3]
    assert load(Envelope, '{"members":[]}')["members"] == []
    assert load(Envelope, '{"members":null}')["members"] == []
    assert load(Envelope, "{}")["members"] == []


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ('{"a":1}', "must be a JSON array"),
        ("1", "must be a JSON array"),
        ("[1,1.5]", "must be a JSON integer"),
        ("[1,-1]", "out of range"),
        ('["1"]', "must be a JSON integer"),
    ],
)
def test_list_rejects_non_arrays_and_bad_items(literal, message):
    messages = errors_of(Envelope, f'{{"members":{literal}}}')

    assert message in str(messages["members"])


# --- keys -----------------------------------------------------------------------------


def test_keys_match_case_insensitively_and_unknown_keys_are_ignored():
    # given an envelope with odd key spellings and keys the struct does not have
    raw = (
        '{"TRANSACTIONID":"' + CANONICAL + '","characterid":7,"Type":"CREATE",'
        '"BODY":{"WORLDID":1,"Name":"n"},"unknown":{"deep":[1]},"worldId":true}'
    )

    # when loaded
    value = load(Envelope, raw)

    # then every field is found under its declared name, nothing else is kept
    assert value == {
        "transactionId": uuid.UUID(CANONICAL),
        "characterId": 7,
        "type": "CREATE",
        "body": {"worldId": 1, "name": "n"},
        "members": [],
    }


def test_the_last_of_case_variants_of_one_key_wins():
    value = load(Envelope, '{"characterId":1,"CHARACTERID":2,"characterid":3}')

    assert value["characterId"] == 3


def test_the_last_case_variant_wins_even_when_it_is_invalid():
    messages = errors_of(Envelope, '{"characterId":1,"CharacterId":"x"}')

    assert "characterId" in messages


def test_a_schema_instance_is_reusable_and_does_not_share_state():
    schema = Envelope()

    first = schema.load({"members": [1]})
    second = schema.load({})

    assert first["members"] == [1]
    assert second["members"] == []


def test_zero_values_are_fresh_for_every_load():
    # given one schema instance serving many messages, and a caller mutating a result
    schema = Envelope()
    first = schema.load({})
    first["members"].append(1)
    first["body"]["worldId"] = 5

    # when the next message is loaded
    second = schema.load({"body": None})

    # then its zero values are untouched
    assert second["members"] == []
    assert second["body"] == {"worldId": 0, "name": ""}
