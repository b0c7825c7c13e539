"""Messengers through the real parts: Kafka → bridge → inbox → lookups → worker → outbox →
relay → Kafka, with the character service played by a real HTTP server
(``fake_services``) and, for invites, the real invites service of this project.

Each test uses its own tenant and reads only that tenant's records. Commands of
different characters carry different keys and may be handled in parallel, so a
test waits for each outcome before sending what depends on it.
"""

from __future__ import annotations

import uuid

import pytest

from invites import messages as invite_messages
from messengers import messages
from messengers.models import Character, Member, Messenger
from project.messaging import wire
from tests.kafka_helpers import (
    assert_headers_carried_on,
    of_tenant,
    traced_headers,
    value_of,
)
from tests.support import character_status, dead_letters, given_character
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

FIRST = 1_000_000_000
NIL = "00000000-0000-0000-0000-000000000000"


def command(type_: str, actor: int, tx: uuid.UUID | None = None, **body: int) -> dict:
    document: dict = {"actorId": actor, "type": type_, "body": body}
    if tx is not None:
        document = {"transactionId": str(tx), **document}
    return document


@pytest.fixture
def cast(tenant_key, fake_services):
    """Alpha, Bravo, Charlie and Delta, as the character service knows them."""
    for character_id, name, world in (
        (1001, "Alpha", 1),
        (1002, "Bravo", 1),
        (1003, "Charlie", 2),
        (1004, "Delta", 0),
    ):
        given_character(tenant_key, character_id, fake=fake_services, name=name, world_id=world)
    return fake_services


class Game:
    """Sends this test's commands and events with its tenant's headers."""

    def __init__(self, kafka_client, tenant_key, headers=None) -> None:
        self.kafka = kafka_client
        self.headers = headers or tenant_key.kafka_headers()

    def command(self, value: dict | bytes, *, key: int = 0, headers=None) -> None:
        self.kafka.produce(
            messages.COMMAND_TOPIC_MESSENGER,
            value,
            key=wire.key_u32(key),
            headers=self.headers if headers is None else headers,
        )

    def character(self, event: dict) -> None:
        self.kafka.produce(
            messages.EVENT_TOPIC_CHARACTER_STATUS,
            event,
            key=wire.key_u32(event["characterId"]),
            headers=self.headers,
        )


def test_create_invite_accept_through_the_invites_service(kafka_client, tenant_key, cast):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_MESSENGER_STATUS)
    invites = kafka_client.reader(messages.COMMAND_TOPIC_INVITE)
    invite_statuses = kafka_client.reader(messages.EVENT_TOPIC_INVITE_STATUS)
    trace_id = uuid.uuid4().hex
    headers = traced_headers(tenant_key, trace_id)
    game = Game(kafka_client, tenant_key, headers)
    tx = uuid.uuid4()

    # when Alpha, in no messenger, asks to invite Bravo
    game.command(command("REQUEST_INVITE", 1001, tx, characterId=1002), key=1001)

    # then the invite CREATE leaves with upstream's bytes, keyed by the new messenger
    (invite,) = invites.wait_for(of_tenant(tenant_key, "CREATE"))
    assert invite.key == bytes.fromhex("00ca9a3b00000000")
    assert invite.value == (
        b'{"transactionId":"' + str(tx).encode() + b'","worldId":1,"inviteType":"MESSENGER",'
        b'"type":"CREATE","body":{"originatorId":1001,"targetId":1002,"referenceId":1000000000}}'
    )
    # and CREATED (after it in the outbox), with the tenant, environment and trace copied
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert created.value == (
        b'{"transactionId":"' + str(tx).encode() + b'","actorId":1001,"worldId":1,'
        b'"messengerId":1000000000,"type":"CREATED","body":{}}'
    )
    assert created.key == bytes.fromhex("00ca9a3b00000000")
    assert_headers_carried_on(created, tenant_key, trace_id)
    # the character service was asked with the tenant's decimal headers
    (seen,) = cast.requests_to("characters/1001")
    assert (seen.headers["TENANT_ID"], seen.headers["MAJOR_VERSION"]) == (str(tenant_key.id), "83")

    # when the invites service (this project's) created the invite and Bravo accepts it
    invite_statuses.wait_for(of_tenant(tenant_key, "CREATED", referenceId=FIRST))
    accept_tx = uuid.uuid4()
    kafka_client.produce(
        invite_messages.COMMAND_TOPIC_INVITE,
        {
            "transactionId": str(accept_tx),
            "worldId": 1,
            "inviteType": "MESSENGER",
            "type": "ACCEPT",
            "body": {"targetId": 1002, "referenceId": FIRST},
        },
        key=wire.key_u32(FIRST),
        headers=headers,
    )

    # then the ACCEPTED event seats Bravo in seat 1
    (joined,) = statuses.wait_for(of_tenant(tenant_key, "JOINED"))
    assert value_of(joined) == {
        "transactionId": str(accept_tx),
        "actorId": 1002,
        "worldId": 1,
        "messengerId": FIRST,
        "type": "JOINED",
        "body": {"slot": 1},
    }
    members = Member.objects.filter(tenant__uuid=tenant_key.id).order_by("id")
    assert list(members.values_list("character_id", "slot")) == [(1001, 0), (1002, 1)]


def test_join_full_leave_and_character_events(kafka_client, tenant_key, cast):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_MESSENGER_STATUS)
    member_statuses = kafka_client.reader(messages.EVENT_TOPIC_MESSENGER_MEMBER_STATUS)
    game = Game(kafka_client, tenant_key)

    # given Alpha's messenger with Bravo and Charlie (commands without transactionId)
    game.command(command("CREATE", 1001), key=1001)
    statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    for count, actor in enumerate((1002, 1003), start=1):
        game.command(command("JOIN", actor, messengerId=FIRST), key=actor)
        statuses.wait_for(of_tenant(tenant_key, "JOINED"), count=count)
    joined = [value_of(r) for r in statuses.records if of_tenant(tenant_key, "JOINED")(r)]
    assert [(v["actorId"], v["body"]["slot"], v["transactionId"]) for v in joined] == [
        (1002, 1, NIL),
        (1003, 2, NIL),
    ]

    # when Delta tries to join the full messenger
    game.command(command("JOIN", 1004, messengerId=FIRST), key=1004)

    # then it gets the capacity error, keyed by the messenger
    (full,) = statuses.wait_for(of_tenant(tenant_key, "ERROR"))
    assert full.key == bytes.fromhex("00ca9a3b00000000")
    assert full.value == (
        b'{"transactionId":"' + NIL.encode() + b'","actorId":1004,"worldId":0,'
        b'"messengerId":1000000000,"type":"ERROR","body":{"type":'
        b'"THE_MESSENGER_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY","characterName":""}}'
    )

    # when Charlie logs in, changes channel, and logs out
    game.character(character_status("LOGIN", 1003, channelId=1, mapId=100000000))
    (login,) = member_statuses.wait_for(of_tenant(tenant_key, "LOGIN"))
    game.character(character_status("CHANNEL_CHANGED", 1003, channelId=3, oldChannelId=1))
    wait_until(
        lambda: Character.objects.filter(
            tenant__uuid=tenant_key.id, character_id=1003, channel_id=3, online=True
        ).exists(),
        what="channel recorded",
    )
    logout_event = character_status("LOGOUT", 1003, channelId=3)
    game.character(logout_event)

    # then member LOGIN, then member LOGOUT and LEFT with Charlie's seat, all keyed by the messenger
    assert value_of(login) == {
        "transactionId": value_of(login)["transactionId"],
        "worldId": 2,
        "messengerId": FIRST,
        "characterId": 1003,
        "type": "LOGIN",
        "body": {},
    }
    assert login.key == bytes.fromhex("00ca9a3b00000000")
    (logout,) = member_statuses.wait_for(of_tenant(tenant_key, "LOGOUT"))
    (left,) = statuses.wait_for(of_tenant(tenant_key, "LEFT"))
    assert value_of(logout)["transactionId"] == logout_event["transactionId"]
    assert value_of(left) == {
        "transactionId": logout_event["transactionId"],
        "actorId": 1003,
        "worldId": 2,
        "messengerId": FIRST,
        "type": "LEFT",
        "body": {"slot": 2},
    }

    # when Delta joins now, and Bravo leaves, then Alpha is deleted
    game.command(command("JOIN", 1004, messengerId=FIRST), key=1004)
    statuses.wait_for(of_tenant(tenant_key, "JOINED", actorId=1004))
    game.command(command("LEAVE", 1002, messengerId=FIRST), key=1002)
    statuses.wait_for(of_tenant(tenant_key, "LEFT", actorId=1002))
    game.character(character_status("DELETED", 1001))
    statuses.wait_for(of_tenant(tenant_key, "LEFT", actorId=1001))

    # then Delta took the free seat 2, and sits alone; nobody moved
    delta = [r for r in statuses.records if of_tenant(tenant_key, "JOINED", actorId=1004)(r)]
    assert value_of(delta[0])["body"] == {"slot": 2}
    members = Member.objects.filter(tenant__uuid=tenant_key.id)
    assert list(members.values_list("character_id", "slot")) == [(1004, 2)]
    # and when Delta leaves, the messenger is gone
    game.command(command("LEAVE", 1004, messengerId=FIRST), key=1004)
    statuses.wait_for(of_tenant(tenant_key, "LEFT", actorId=1004))
    assert not Messenger.objects.filter(tenant__uuid=tenant_key.id).exists()


def test_rest_join_goes_through_kafka(kafka_client, tenant_key, cast, rest):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_MESSENGER_STATUS)
    commands = kafka_client.reader(messages.COMMAND_TOPIC_MESSENGER)
    game = Game(kafka_client, tenant_key)
    game.command(command("CREATE", 1001), key=1001)
    statuses.wait_for(of_tenant(tenant_key, "CREATED"))

    # when a member is POSTed over REST
    response = rest.post(
        f"/api/messengers/{FIRST}/members", json={"data": {"type": "members", "id": "1002"}}
    )

    # then 202, the JOIN command goes out keyed by the member, and is consumed like any other
    assert response.status_code == 202
    (join,) = commands.wait_for(of_tenant(tenant_key, "JOIN"))
    assert join.key == wire.key_u32(1002)
    (joined,) = statuses.wait_for(of_tenant(tenant_key, "JOINED"))
    assert value_of(joined)["transactionId"] == value_of(join)["transactionId"]
    body = rest.get(f"/api/messengers/{FIRST}").json()
    assert [m["attributes"]["name"] for m in body["included"]] == ["Alpha", "Bravo"]

    # and a REST DELETE makes it leave
    assert rest.delete(f"/api/messengers/{FIRST}/members/1002").status_code == 202
    statuses.wait_for(of_tenant(tenant_key, "LEFT", actorId=1002))
    assert rest.get(f"/api/messengers/{FIRST}/members/1002").status_code == 404


def test_bad_input_becomes_dead_letters_and_a_following_good_command_is_handled(
    kafka_client, tenant_key, cast
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_MESSENGER_STATUS)
    game = Game(kafka_client, tenant_key)
    marker = str(uuid.uuid4())

    def marked(document: dict) -> dict:
        return {**document, "marker": marker}

    bad_inputs = [
        (b'{"marker":"' + marker.encode() + b'","type":"CREATE",', None, "invalid JSON"),
        (marked(command("JOIN", 1001, messengerId="1")), None, "body.messengerId"),
        (marked(command("REQUEST_INVITE", 1001, characterId=-5)), None, "out of range"),
        (marked({"actorId": True, "type": "CREATE", "body": {}}), None, "actorId"),
        (marked({"actorId": 1, "type": "LEAVE", "body": "x"}), None, "body"),
        (marked(command("DISBAND", 1001)), None, "unknown command type 'DISBAND'"),
        (marked(command("CREATE", 1001)), [], "missing TENANT_ID"),
    ]
    for value, headers, _reason in bad_inputs:
        game.command(value, key=1001, headers=headers)
    game.character({**character_status("LOGIN", 1001, channelId=300), "marker": marker})

    # when a good CREATE follows them on the same key
    good_tx = uuid.uuid4()
    game.command(command("CREATE", 1001, good_tx), key=1001)

    # then it is handled
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert value_of(created)["transactionId"] == str(good_tx)

    # and every bad record is a dead letter with its reason, in order
    dead = dead_letters("messengers", marker, len(bad_inputs) + 1)
    command_rows = [r for r in dead if r.topic == wire.topic_name(messages.COMMAND_TOPIC_MESSENGER)]
    for (_value, _headers, reason), row in zip(bad_inputs, command_rows, strict=True):
        assert reason in row.error, row.error
    (login_row,) = [r for r in dead if r.topic != command_rows[0].topic]
    assert "channelId" in login_row.error
    # and nothing but the good command changed anything
    assert Messenger.objects.filter(tenant__uuid=tenant_key.id).count() == 1
    record = Character.objects.get(tenant__uuid=tenant_key.id, character_id=1001)
    assert not record.online
