"""Parties through the real parts: Kafka → bridge → inbox (lookups in prepare, over real
HTTP to the stand-in character and maps services) → worker → outbox → relay → Kafka.

Each test uses its own tenant and reads only that tenant's records.
"""

from __future__ import annotations

import functools
import json
import uuid

import pytest

from parties import messages
from parties.models import Character, Party
from project.messaging import wire
from project.messaging.models import InboxMessage
from tests.kafka_helpers import (
    assert_headers_carried_on,
    of_tenant,
    traced_headers,
    value_of,
)
from tests.support import character_status, dead_letters, given_character
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

NIL = "00000000-0000-0000-0000-000000000000"
P1 = 1_000_000_000
COMMANDS = messages.COMMAND_TOPIC_PARTY
CHARACTERS = messages.EVENT_TOPIC_CHARACTER_STATUS


def command(type_: str, actor: int, tx: uuid.UUID | None = None, **body: object) -> dict:
    document: dict = {"actorId": actor, "type": type_, "body": body}
    if tx is not None:
        document["transactionId"] = str(tx)
    return document


# Events of the cast's world.
character_event = functools.partial(character_status, world_id=1)


@pytest.fixture
def send(kafka_client, tenant_key):
    def produce(token: str, value: dict | bytes, key_id: int, headers=None) -> None:
        kafka_client.produce(
            token,
            value,
            key=wire.key_u32(key_id),
            headers=tenant_key.kafka_headers() if headers is None else headers,
        )

    return produce


@pytest.fixture
def cast(tenant_key, fake_services):
    """Four characters the character and maps services know (1001 is a warrior)."""
    for character_id, name in ((1001, "Ann"), (1002, "Bob"), (1003, "Cid"), (1004, "Dee")):
        given_character(
            tenant_key,
            character_id,
            fake=fake_services,
            name=name,
            world_id=1,
            level=30,
            job_id=110,
            channel_id=2,
            map_id=100000000,
        )
    return fake_services


def test_every_command_type_answers_on_the_status_topic(kafka_client, tenant_key, send, cast):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_PARTY_STATUS)
    trace_id = uuid.uuid4().hex
    headers = traced_headers(tenant_key, trace_id)

    # CREATE: upstream's bytes, key and headers (environment and trace copied)
    send(COMMANDS, command("CREATE", 1001), 1001, headers=headers)
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert created.key == bytes.fromhex("00ca9a3b00000000")
    assert created.value == (
        b'{"actorId":1001,"worldId":1,"partyId":1000000000,"type":"CREATED","body":{},'
        b'"transactionId":"00000000-0000-0000-0000-000000000000"}'
    )
    assert_headers_carried_on(created, tenant_key, trace_id)
    # the lookups went to the character and maps services with the tenant
    (seen,) = cast.requests_to("characters/1001")
    assert seen.headers["TENANT_ID"] == str(tenant_key.id)
    assert cast.requests_to("characters/1001/location")

    # JOIN, CHANGE_LEADER, expel, leave and disband
    for joiner in (1002, 1003):
        send(COMMANDS, command("JOIN", joiner, partyId=P1), joiner)
    statuses.wait_for(of_tenant(tenant_key, "JOINED"), count=2)
    send(COMMANDS, command("CHANGE_LEADER", 1001, partyId=P1, leaderId=1002), 1001)
    (changed,) = statuses.wait_for(of_tenant(tenant_key, "CHANGE_LEADER"))
    assert value_of(changed)["body"] == {"characterId": 1002, "disconnected": False}
    send(COMMANDS, command("LEAVE", 1002, force=True, partyId=P1, characterId=1003), 1002)
    (expel,) = statuses.wait_for(of_tenant(tenant_key, "EXPEL"))
    assert value_of(expel) == {
        "actorId": 1002,
        "worldId": 1,
        "partyId": P1,
        "type": "EXPEL",
        "body": {"characterId": 1003},
        "transactionId": NIL,
    }
    leave_tx, disband_tx = uuid.uuid4(), uuid.uuid4()
    send(COMMANDS, command("LEAVE", 1001, tx=leave_tx, partyId=P1), 1001)
    (left,) = statuses.wait_for(of_tenant(tenant_key, "LEFT"))
    assert value_of(left)["transactionId"] == str(leave_tx)
    send(COMMANDS, command("LEAVE", 1002, tx=disband_tx, partyId=P1), 1002)
    (disband,) = statuses.wait_for(of_tenant(tenant_key, "DISBAND"))
    assert value_of(disband)["body"] == {"members": [1002]}
    assert value_of(disband)["transactionId"] == str(disband_tx)
    assert not Party.objects.filter(tenant__uuid=tenant_key.id).exists()

    # a refusal: a second LEAVE is ERROR_UNEXPECTED with the nil transaction id
    send(COMMANDS, command("LEAVE", 1002, tx=uuid.uuid4(), partyId=P1), 1002)
    (refused,) = statuses.wait_for(of_tenant(tenant_key, "ERROR"))
    assert value_of(refused) == {
        "actorId": 1002,
        "worldId": 1,
        "partyId": P1,
        "type": "ERROR",
        "body": {"type": "ERROR_UNEXPECTED", "characterName": ""},
        "transactionId": NIL,
    }


def test_an_invite_goes_round_the_invites_service_and_its_acceptance_joins(
    kafka_client, tenant_key, send, cast
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_PARTY_STATUS)
    invites = kafka_client.reader(messages.COMMAND_TOPIC_INVITE)

    # when a party-less character invites another
    send(COMMANDS, command("REQUEST_INVITE", 1001, characterId=1004), 1001)

    # then his party is created and the invite service is asked to invite
    (invite,) = invites.wait_for(of_tenant(tenant_key, "CREATE"))
    assert invite.key == wire.key_u32(P1)
    assert invite.value == (
        b'{"worldId":1,"inviteType":"PARTY","type":"CREATE",'
        b'"body":{"originatorId":1001,"targetId":1004,"referenceId":1000000000}}'
    )
    statuses.wait_for(of_tenant(tenant_key, "CREATED"))

    # when the invitee accepts (the invites service answers ACCEPTED)
    send(
        messages.COMMAND_TOPIC_INVITE,
        {
            "transactionId": str(uuid.uuid4()),
            "worldId": 1,
            "inviteType": "PARTY",
            "type": "ACCEPT",
            "body": {"targetId": 1004, "referenceId": P1},
        },
        P1,
    )

    # then he joins
    (joined,) = statuses.wait_for(of_tenant(tenant_key, "JOINED"))
    assert value_of(joined)["actorId"] == 1004
    character = Character.objects.select_related("party").get(
        tenant__uuid=tenant_key.id, character_id=1004
    )
    assert character.party.party_id == P1


def test_character_events_keep_the_cache_and_tell_the_party(kafka_client, tenant_key, send, cast):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_PARTY_STATUS)
    members = kafka_client.reader(messages.EVENT_TOPIC_PARTY_MEMBER_STATUS)
    send(COMMANDS, command("CREATE", 1001), 1001)
    statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    send(COMMANDS, command("JOIN", 1002, partyId=P1), 1002)
    statuses.wait_for(of_tenant(tenant_key, "JOINED"))

    # when 1002 lives a little (the character service now says GM 1 for him)
    cast.character(tenant_key, 1002, name="Bob", world_id=1, level=30, job_id=110, gm=1)
    for event in (
        character_event("LOGIN", 1002, channelId=3, mapId=1, instance=NIL),
        character_event("CHANNEL_CHANGED", 1002, channelId=4, oldChannelId=3, mapId=1),
        character_event("MAP_CHANGED", 1002, channelId=4, oldMapId=1, targetMapId=211000000),
        character_event("LEVEL_CHANGED", 1002, channelId=4, amount=1, current=31),
        character_event("JOB_CHANGED", 1002, channelId=4, jobId=111),
        character_event("GM_CHANGED", 1002, oldGm=False, newGm=True),
        character_event("NAME_CHANGED", 1002, oldName="Bob", newName="Robert"),
        character_event("LOGOUT", 1002, channelId=4, mapId=211000000),
    ):
        send(CHARACTERS, event, 1002)

    # then the party hears of it, in order, keyed by the party
    records = members.wait_for(of_tenant(tenant_key), count=5)
    assert [value_of(r)["type"] for r in records] == [
        "LOGIN",
        "LEVEL_CHANGED",
        "JOB_CHANGED",
        "NAME_CHANGED",
        "LOGOUT",
    ]
    assert {r.key for r in records} == {wire.key_u32(P1)}
    assert records[1].value == (
        b'{"worldId":1,"partyId":1000000000,"characterId":1002,"type":"LEVEL_CHANGED",'
        b'"body":{"oldLevel":30,"newLevel":31,"name":"Bob"}}'
    )
    assert value_of(records[3])["body"] == {"oldName": "Bob", "newName": "Robert"}
    character = Character.objects.get(tenant__uuid=tenant_key.id, character_id=1002)
    assert (character.channel_id, character.map_id, character.gm, character.online) == (
        4,
        211000000,
        1,
        False,
    )

    # when the leader is deleted, the party disbands with the event's transaction id
    tx = uuid.uuid4()
    send(CHARACTERS, character_event("DELETED", 1001, tx=tx), 1001)
    (disband,) = statuses.wait_for(of_tenant(tenant_key, "DISBAND"))
    assert value_of(disband)["body"] == {"members": [1001, 1002]}
    assert value_of(disband)["transactionId"] == str(tx)
    wait_until(
        lambda: (
            not Character.objects.filter(tenant__uuid=tenant_key.id, character_id=1001).exists()
        ),
        what="deleted character forgotten",
    )


def test_failing_and_slow_character_services(kafka_client, tenant_key, send, cast):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_PARTY_STATUS)
    # given one character the service fails for and one it answers slowly
    cast.put("characters/2001", status=503, tenant=tenant_key)
    given_character(tenant_key, 2002, fake=cast, world_id=1, job_id=110)
    cast.character(tenant_key, 2002, world_id=1, job_id=110, delay=3.0)

    # when both create a party, the slow one first, then 1003 (answered at once)
    send(COMMANDS, command("CREATE", 2002), 2002)
    send(COMMANDS, command("CREATE", 2001), 2001)
    send(COMMANDS, command("CREATE", 1003), 1003)

    # then the failing one gets upstream's error after the client's bounded retries
    (failed,) = statuses.wait_for(of_tenant(tenant_key, "ERROR"))
    assert value_of(failed)["actorId"] == 2001
    assert value_of(failed)["body"]["type"] == "ERROR_UNEXPECTED"
    assert len(cast.requests_to("characters/2001")) == 3
    # and the slow lookup holds nobody else up: 1003's party comes first
    created = statuses.wait_for(of_tenant(tenant_key, "CREATED"), count=2, timeout=30)
    assert [value_of(r)["actorId"] for r in created] == [1003, 2002]
    assert [value_of(r)["partyId"] for r in created] == [P1, P1 + 1]
    rows = InboxMessage.objects.filter(tenant__uuid=tenant_key.id, app="parties")
    wait_until(lambda: set(rows.values_list("state", flat=True)) == {"done"}, what="all done")


def test_bad_input_becomes_dead_letters_and_a_following_command_is_handled(
    kafka_client, tenant_key, send, cast
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_PARTY_STATUS)
    marker = str(uuid.uuid4())

    def marked(document: dict) -> bytes:
        return json.dumps({**document, "marker": marker}).encode()

    bad = [
        (b'{"marker":"' + marker.encode() + b'","type":"CREATE",', "invalid JSON"),
        (marked(command("CREATE", 1001) | {"actorId": "1001"}), "actorId"),
        (marked(command("LEAVE", 1001, partyId=P1, force="true")), "force"),
        (marked(command("JOIN", 1001) | {"body": []}), "body"),
        (marked(command("CREATE", 1001) | {"transactionId": ""}), "transactionId"),
        (marked(command("DISBAND", 1001)), "unknown command type"),
    ]
    for value, _reason in bad:
        send(COMMANDS, value, 1001)
    send(CHARACTERS, marked(character_event("LEVEL_CHANGED", 1001, current=300)), 1001)

    # when a good command follows on the same key
    send(COMMANDS, command("CREATE", 1001), 1001)

    # then it is handled, and every bad record is a dead letter with its reason, in order
    statuses.wait_for(of_tenant(tenant_key, "CREATED"))

    dead = dead_letters("parties", marker, len(bad) + 1)
    commands = [row for row in dead if row.topic == wire.topic_name(COMMANDS)]
    for (_value, reason), row in zip(bad, commands, strict=True):
        assert reason in row.error, row.error
    (character_row,) = [row for row in dead if row.topic == wire.topic_name(CHARACTERS)]
    assert "current" in character_row.error
    assert Party.objects.filter(tenant__uuid=tenant_key.id).count() == 1


def test_a_rest_create_goes_round_kafka(kafka_client, tenant_key, cast, rest):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_PARTY_STATUS)
    body = {
        "data": {
            "type": "parties",
            "id": "0",
            "attributes": {},
            "relationships": {"members": {"data": [{"type": "members", "id": "1001"}]}},
        }
    }

    assert rest.post("/api/parties", json=body).status_code == 202

    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert value_of(created)["actorId"] == 1001
    party = rest.get(f"/api/parties/{P1}").json()
    assert party["data"]["attributes"] == {"leaderId": 1001}
    assert party["included"][0]["attributes"]["name"] == "Ann"
