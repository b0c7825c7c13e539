"""Records on the consumed topics through the platform's inbox, in-process.

``deliver`` stores a record as the bridge does, runs its prepare step (the
lookups, here against the local directory or a real stand-in HTTP server) and
handles it as the worker does. Bad input ends as a dead letter with its reason
and changes nothing (project decision); domain refusals are ERROR events.
"""

from __future__ import annotations

import json
import uuid

import pytest

from parties import messages
from parties.models import Character, Party
from project.messaging.models import InboxMessage
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.parties.support import INVITE_TOPIC, deliver, error, member_statuses, status, statuses
from tests.support import NIL, given_character, values

pytestmark = pytest.mark.django_db

COMMANDS = messages.COMMAND_TOPIC_PARTY
CHARACTERS = messages.EVENT_TOPIC_CHARACTER_STATUS
INVITES = messages.EVENT_TOPIC_INVITE_STATUS
P1 = 1_000_000_000
State = InboxMessage.State


@pytest.fixture
def key() -> TenantKey:
    return TenantKey(uuid.uuid4(), "GMS", 83, 1)


@pytest.fixture
def headers(key) -> list[tuple[str, bytes]]:
    return key.kafka_headers()


@pytest.fixture
def tenant(key):
    return tenant_row(key)


def command(type_: str, actor: int, tx: str | None = None, **body: object) -> dict:
    document = {"actorId": actor, "type": type_, "body": body}
    if tx is not None:
        document["transactionId"] = tx
    return document


def character_event(type_: str, character_id: int, world_id: int = 1, **body: object) -> dict:
    return {
        "transactionId": str(uuid.uuid4()),
        "worldId": world_id,
        "characterId": character_id,
        "type": type_,
        "body": body,
    }


def party_with(key, headers, leader: int, *others: int) -> None:
    for character_id in (leader, *others):
        given_character(key, character_id, world_id=1, job_id=110, name=f"c{character_id}")
    assert deliver(COMMANDS, command("CREATE", leader), headers).state == State.DONE
    for other in others:
        deliver(COMMANDS, command("JOIN", other, partyId=P1), headers)


# --- the upstream examples ------------------------------------------------------------


def test_create_looks_the_leader_up_in_the_directory_and_caches_him(key, headers, tenant):
    given_character(
        key, 1001, name="Ann", world_id=1, level=30, job_id=110, channel_id=2, map_id=104000000
    )

    row = deliver(
        COMMANDS,
        command("CREATE", 1001, tx="3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
        headers,
        key=bytes(8),
    )

    assert (row.state, row.error) == (State.DONE, "")
    assert statuses(tenant) == [status("CREATED", actor=1001, world=1, party=P1)]
    cached = Character.objects.get(tenant=tenant, character_id=1001)
    assert (cached.name, cached.level, cached.channel_id, cached.map_id) == (
        "Ann",
        30,
        2,
        104000000,
    )


def test_an_unknown_character_is_an_unexpected_error_not_a_dead_letter(headers, tenant):
    row = deliver(COMMANDS, command("CREATE", 4242), headers)

    assert row.state == State.DONE
    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=4242, world=0, party=0)]
    assert not Character.objects.filter(tenant=tenant).exists()


def test_every_command_type_through_the_inbox(key, headers, tenant):
    party_with(key, headers, 1001, 1002, 1003)
    given_character(key, 1004, world_id=2, job_id=110)
    tx = str(uuid.uuid4())

    deliver(COMMANDS, command("CHANGE_LEADER", 1001, partyId=P1, leaderId=1002), headers)
    deliver(COMMANDS, command("LEAVE", 1002, force=True, partyId=P1, characterId=1003), headers)
    deliver(COMMANDS, command("REQUEST_INVITE", 1002, characterId=1004), headers)
    deliver(COMMANDS, command("LEAVE", 1001, tx=tx, partyId=P1, characterId=1002), headers)

    assert statuses(tenant)[3:] == [
        status(
            "CHANGE_LEADER",
            actor=1001,
            world=1,
            party=P1,
            body={"characterId": 1002, "disconnected": False},
        ),
        status("EXPEL", actor=1002, world=1, party=P1, body={"characterId": 1003}),
        # force=false ignores characterId: 1001 leaves, echoing the transaction id
        status("LEFT", actor=1001, world=1, party=P1, tx=tx),
    ]
    assert values(INVITE_TOPIC, tenant) == [
        {
            "worldId": 1,
            "inviteType": "PARTY",
            "type": "CREATE",
            "body": {"originatorId": 1002, "targetId": 1004, "referenceId": P1},
        }
    ]


def test_an_accepted_party_invite_joins_and_other_invites_are_ignored(key, headers, tenant):
    party_with(key, headers, 1001)
    given_character(key, 1002, world_id=1)

    def accepted(invite_type: str, type_: str = "ACCEPTED") -> dict:
        return {
            "worldId": 1,
            "inviteType": invite_type,
            "referenceId": P1,
            "type": type_,
            "body": {"originatorId": 1001, "targetId": 1002},
        }

    assert deliver(INVITES, accepted("PARTY", "CREATED"), headers) is None
    assert deliver(INVITES, accepted("PARTY", "REJECTED"), headers) is None
    assert deliver(INVITES, accepted("MESSENGER"), headers).state == State.DONE
    assert deliver(INVITES, accepted("PARTY"), headers).state == State.DONE

    assert statuses(tenant)[1:] == [status("JOINED", actor=1002, world=1, party=P1)]


def test_character_events_through_the_inbox(key, headers, tenant):
    party_with(key, headers, 1001)

    for event in (
        character_event("LOGIN", 1001, channelId=3, mapId=1, instance=NIL),
        character_event("CHANNEL_CHANGED", 1001, channelId=4, oldChannelId=3, mapId=1),
        character_event("MAP_CHANGED", 1001, channelId=4, oldMapId=1, targetMapId=220000000),
        character_event("LEVEL_CHANGED", 1001, channelId=4, amount=1, current=11),
        character_event("JOB_CHANGED", 1001, channelId=4, jobId=111),
        character_event("GM_CHANGED", 1001, oldGm=False, newGm=True),
        character_event("NAME_CHANGED", 1001, oldName="c1001", newName="Zed"),
        character_event("LOGOUT", 1001, channelId=4, mapId=220000000),
    ):
        assert deliver(CHARACTERS, event, headers).state == State.DONE, event["type"]

    assert [e["type"] for e in member_statuses(tenant)] == [
        "LOGIN",
        "LEVEL_CHANGED",
        "JOB_CHANGED",
        "NAME_CHANGED",
        "LOGOUT",
    ]
    cached = Character.objects.get(tenant=tenant, character_id=1001)
    assert (cached.channel_id, cached.map_id, cached.level, cached.job_id, cached.name) == (
        4,
        220000000,
        11,
        111,
        "Zed",
    )
    assert cached.online is False


def test_login_applies_the_channel_only_not_the_events_world_or_map(key, headers, tenant):
    given_character(key, 1001, world_id=1, map_id=100, channel_id=1)
    deliver(CHARACTERS, character_event("CHANNEL_CHANGED", 1001, channelId=1), headers)

    event = character_event("LOGIN", 1001, world_id=7, channelId=3, mapId=555, instance=NIL)
    deliver(CHARACTERS, event, headers)

    cached = Character.objects.get(tenant=tenant, character_id=1001)
    assert (cached.world_id, cached.channel_id, cached.map_id, cached.online) == (1, 3, 100, True)


def test_deleted_disbands_with_the_events_transaction(key, headers, tenant):
    party_with(key, headers, 1001, 1002)
    event = character_event("DELETED", 1001)

    assert deliver(CHARACTERS, event, headers).state == State.DONE

    assert statuses(tenant)[-1] == status(
        "DISBAND",
        actor=1001,
        world=1,
        party=P1,
        body={"members": [1001, 1002]},
        tx=event["transactionId"],
    )
    assert not Party.objects.filter(tenant=tenant).exists()


def test_event_types_parties_does_not_act_on_make_no_row(headers):
    for type_ in ("CREATED", "EXPERIENCE_CHANGED", "MESO_CHANGED", "FAME_CHANGED", "ERROR"):
        assert deliver(CHARACTERS, character_event(type_, 1001), headers) is None


# --- Go's decoding: only the type's own fields matter ---------------------------------


def test_fields_another_type_declares_are_ignored_even_when_ill_typed(key, headers, tenant):
    given_character(key, 1001, job_id=110)
    given_character(key, 1002)

    deliver(COMMANDS, command("CREATE", 1001, partyId="abc"), headers)
    deliver(COMMANDS, command("JOIN", 1002, partyId=P1, force="x"), headers)
    deliver(CHARACTERS, character_event("LEVEL_CHANGED", 1002, current=12, jobId="x"), headers)

    assert [s["type"] for s in statuses(tenant)] == ["CREATED", "JOINED"]
    assert member_statuses(tenant)[0]["body"]["newLevel"] == 12


def test_null_means_the_zero_value(key, headers, tenant):
    given_character(key, 1001, job_id=110)

    row = deliver(
        COMMANDS, {"actorId": 1001, "type": "CREATE", "body": None, "transactionId": None}, headers
    )

    assert row.state == State.DONE
    assert statuses(tenant)[0]["type"] == "CREATED"


def test_keys_match_case_insensitively(key, headers, tenant):
    given_character(key, 1001, job_id=110)

    deliver(COMMANDS, {"ActorId": 1001, "TYPE": "CREATE", "Body": {}}, headers)

    assert statuses(tenant)[0]["actorId"] == 1001


def bad(document: dict, **override: object) -> bytes:
    for name, value in override.items():
        (document if name in document else document["body"])[name] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("token", "raw", "reason"),
    [
        (COMMANDS, b'{"actorId":1001,"type":"CREATE",', "invalid JSON"),
        (COMMANDS, bad(command("JOIN", 1, partyId=P1), actorId="1001"), "actorId"),
        (COMMANDS, b'{"actorId":1001.5,"type":"CREATE","body":{}}', "actorId"),
        (COMMANDS, b'{"actorId":1e3,"type":"CREATE","body":{}}', "actorId"),
        (COMMANDS, bad(command("CREATE", 1), actorId=-1), "actorId"),
        (COMMANDS, bad(command("CREATE", 1), actorId=4294967296), "actorId"),
        (COMMANDS, bad(command("CREATE", 1), actorId=True), "actorId"),
        (COMMANDS, bad(command("LEAVE", 1, partyId=P1), force="true"), "force"),
        (COMMANDS, bad(command("LEAVE", 1, partyId=P1), force=1), "force"),
        (COMMANDS, bad(command("JOIN", 1, partyId=P1), body=[]), "body"),
        (COMMANDS, bad(command("JOIN", 1, partyId=P1), body="x"), "body"),
        (COMMANDS, bad(command("CREATE", 1, tx=NIL), transactionId=""), "transactionId"),
        (COMMANDS, bad(command("CREATE", 1, tx=NIL), transactionId="not-a-uuid"), "transactionId"),
        (COMMANDS, b'{"actorId":1,"type":"CREATE","body":{},"x":NaN}', "invalid JSON"),
        (COMMANDS, bad(command("CREATE", 1), type="DISBAND"), "unknown command type"),
        (COMMANDS, bad(command("CREATE", 1), type="create"), "unknown command type"),
        (CHARACTERS, bad(character_event("LOGIN", 1), worldId=256), "worldId"),
        (CHARACTERS, bad(character_event("LEVEL_CHANGED", 1), current=300), "current"),
        (CHARACTERS, bad(character_event("DELETED", 1), characterId="1"), "characterId"),
        (INVITES, b'{"inviteType":"PARTY","type":"ACCEPTED","referenceId":"1"}', "referenceId"),
    ],
)
def test_bad_input_is_a_dead_letter_with_its_reason(headers, tenant, token, raw, reason):
    row = deliver(token, raw, headers)

    assert row.state == State.DEAD
    assert reason in row.error
    assert not Party.objects.filter(tenant=tenant).exists()
    assert statuses(tenant) == []


def test_missing_tenant_headers_are_a_dead_letter(key):
    given_character(key, 1001, job_id=110)

    row = deliver(COMMANDS, command("CREATE", 1001), [])

    assert row.state == State.DEAD
    assert "TENANT_ID" in row.error


# --- a failing character service (a real HTTP server standing in) ---------------------


def test_a_failing_character_service_ends_in_the_error_event_not_a_stuck_key(
    key, headers, tenant, fake_services
):
    fake_services.put("characters/1001", status=503, tenant=key)

    row = deliver(COMMANDS, command("CREATE", 1001), headers)

    # three attempts (upstream's client), then upstream's error; the row is done
    assert len(fake_services.requests_to("characters/1001")) == 3
    assert row.state == State.DONE
    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=1001, world=0, party=0)]


def test_lookups_send_the_tenant_and_use_the_maps_service_location(
    key, headers, tenant, fake_services
):
    fake_services.character(key, 1001, name="Ann", world_id=2, job_id=110, channel_id=3, map_id=7)

    deliver(COMMANDS, command("CREATE", 1001), headers)

    (seen,) = fake_services.requests_to("characters/1001")
    assert seen.headers["TENANT_ID"] == str(key.id)
    assert (seen.headers["MAJOR_VERSION"], seen.headers["MINOR_VERSION"]) == ("83", "1")
    assert len(fake_services.requests_to("characters/1001/location")) == 1
    cached = Character.objects.get(tenant=tenant, character_id=1001)
    assert (cached.world_id, cached.channel_id, cached.map_id) == (2, 3, 7)
    # a cached character is not fetched again
    deliver(COMMANDS, command("CREATE", 1001), headers)
    assert len(fake_services.requests_to("characters/1001")) == 1


def test_login_of_an_unknown_character_is_refetched_and_placed_where_the_event_says(
    key, headers, tenant, fake_services
):
    from tests.fake_services import Answer

    fake_services.character(key, 1001, name="Ann", world_id=2, map_id=7)
    document = fake_services.answers[(str(key.id), "/api/characters/1001")]
    # the first lookup fails (three 404s are one final answer: one 404 is enough)
    document.before = [Answer(404)]

    deliver(CHARACTERS, character_event("LOGIN", 1001, world_id=5, channelId=6, mapId=9), headers)

    cached = Character.objects.get(tenant=tenant, character_id=1001)
    assert (cached.name, cached.world_id, cached.channel_id, cached.map_id) == ("Ann", 5, 6, 9)
    assert cached.online is True
