"""Records through the inbox in-process: decoding, the prepare step's lookups (local
directory, or a real HTTP server standing in for the character service), the handler.

The bridge's ``store``, the prepare step and the handling step run here as the
worker would run them; the e2e tests do the same through the real broker.
"""

from __future__ import annotations

import uuid

import pytest

from messengers import messages
from messengers.models import Character, Member, Messenger
from project.messaging import registry
from project.messaging.models import InboxMessage
from project.tenancy.rows import tenant_row
from tests.delivery import Feed
from tests.fake_services import Answer
from tests.messengers.support import FIRST, MEMBER_STATUS, STATUS, all_emitted, error
from tests.support import character_status, given_character, values

pytestmark = pytest.mark.django_db

State = InboxMessage.State


@pytest.fixture
def feed(tenant_key) -> Feed:
    """Each record handled in one go: its lookups, then one ``inbox.process``."""
    return Feed("messengers", tenant_key, attempts=1)


def command(type_: str, actor: int, tx: uuid.UUID | None = None, **body: int) -> dict:
    document = {"actorId": actor, "type": type_, "body": body}
    if tx is not None:
        document = {"transactionId": str(tx), **document}
    return document


def tenant_of(tenant_key):
    return tenant_row(tenant_key)


def test_create_looks_the_creator_up_in_the_local_directory(feed, tenant_key, local_directory):
    given_character(tenant_key, 1001, name="Alpha", world_id=2)

    # atlas-channel sends commands without transactionId
    row = feed(messages.COMMAND_TOPIC_MESSENGER, command("CREATE", 1001), key=1001)

    assert row.state == State.DONE
    assert row.prepared == {"value": {"1001": {"name": "Alpha", "worldId": 2}}}
    tenant = tenant_of(tenant_key)
    assert values(STATUS, tenant) == [
        {
            "transactionId": "00000000-0000-0000-0000-000000000000",
            "actorId": 1001,
            "worldId": 2,
            "messengerId": FIRST,
            "type": "CREATED",
            "body": {},
        }
    ]
    record = Character.objects.get(tenant=tenant, character_id=1001)
    assert (record.name, record.world_id, record.online) == ("Alpha", 2, False)


def test_a_character_the_registry_knows_is_not_looked_up_again(feed, tenant_key, fake_services):
    fake_services.character(tenant_key, 1001, name="Alpha", world_id=1)
    feed(messages.COMMAND_TOPIC_MESSENGER, command("CREATE", 1001))
    fake_services.character(tenant_key, 1001, name="Renamed", world_id=5)

    row = feed(messages.COMMAND_TOPIC_MESSENGER, command("LEAVE", 1001, messengerId=FIRST))

    assert row.prepared == {"value": {}}
    assert len(fake_services.requests_to("characters/1001")) == 1
    assert values(STATUS, tenant_of(tenant_key))[-1]["worldId"] == 1


def test_the_character_service_is_asked_with_the_tenants_headers(feed, tenant_key, fake_services):
    fake_services.character(tenant_key, 1001, name="Alpha", world_id=3)
    fake_services.character(tenant_key, 1002, name="Bravo", world_id=4)
    tx = uuid.uuid4()

    feed(
        messages.COMMAND_TOPIC_MESSENGER,
        command("REQUEST_INVITE", 1001, tx, characterId=1002),
        headers=[*tenant_key.kafka_headers(), ("ENVIRONMENT", b"main")],
    )

    (seen,) = fake_services.requests_to("characters/1001")
    assert seen.headers["TENANT_ID"] == str(tenant_key.id)
    assert (seen.headers["REGION"], seen.headers["MAJOR_VERSION"]) == ("GMS", "83")
    assert seen.headers["MINOR_VERSION"] == "1"
    assert seen.headers["ENVIRONMENT"] == "main"
    tenant = tenant_of(tenant_key)
    assert all_emitted(tenant) == [
        (messages.COMMAND_TOPIC_INVITE, "CREATE"),
        (messages.EVENT_TOPIC_MESSENGER_STATUS, "CREATED"),
    ]
    assert values(messages.COMMAND_TOPIC_INVITE, tenant)[0]["worldId"] == 3
    assert Character.objects.get(tenant=tenant, character_id=1002).world_id == 4


@pytest.mark.parametrize(
    "answer",
    [
        Answer(404),
        Answer(400),
        Answer(500),
        # three 503s: upstream's retries exhausted
        Answer(503, before=[Answer(503), Answer(503)]),
    ],
    ids=["404", "400", "500", "503x3"],
)
def test_a_failed_lookup_is_error_unexpected_with_world_0(feed, tenant_key, fake_services, answer):
    fake_services.answers[(None, "/api/characters/1001")] = answer

    row = feed(messages.COMMAND_TOPIC_MESSENGER, command("JOIN", 1001, messengerId=77))

    assert row.state == State.DONE
    assert values(STATUS, tenant_of(tenant_key)) == [
        error(messages.ERROR_UNEXPECTED, actor=1001, messenger=77)
    ]
    assert not Character.objects.filter(tenant=tenant_of(tenant_key)).exists()


def test_an_empty_name_is_a_failed_lookup(feed, tenant_key, local_directory):
    given_character(tenant_key, 1001, name="")

    feed(messages.COMMAND_TOPIC_MESSENGER, command("CREATE", 1001))

    assert values(STATUS, tenant_of(tenant_key)) == [
        error(messages.ERROR_UNEXPECTED, actor=1001, messenger=0)
    ]
    assert not Messenger.objects.filter(tenant=tenant_of(tenant_key)).exists()


def test_login_retries_a_failed_lookup_once_and_keeps_the_events_world(
    feed, tenant_key, fake_services
):
    fake_services.character(tenant_key, 1001, name="Alpha", world_id=1)
    answer = fake_services.answers[(str(tenant_key.id), "/api/characters/1001")]
    answer.before.append(Answer(404))

    feed(
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_status("LOGIN", 1001, world_id=6, channelId=3),
    )

    record = Character.objects.get(tenant=tenant_of(tenant_key), character_id=1001)
    assert (record.world_id, record.channel_id, record.online) == (6, 3, True)
    assert len(fake_services.requests_to("characters/1001")) == 2


def test_character_events_keep_the_registry_and_seats(feed, tenant_key, local_directory):
    for character_id, name in ((1001, "Alpha"), (1002, "Bravo")):
        given_character(tenant_key, character_id, name=name)
    feed(messages.COMMAND_TOPIC_MESSENGER, command("CREATE", 1001))
    feed(messages.COMMAND_TOPIC_MESSENGER, command("JOIN", 1002, messengerId=FIRST))
    tenant = tenant_of(tenant_key)

    feed(messages.EVENT_TOPIC_CHARACTER_STATUS, character_status("LOGIN", 1002, channelId=2))
    feed(
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_status("CHANNEL_CHANGED", 1002, channelId=4, oldChannelId=2),
    )
    # MAP_CHANGED is for other consumers: no row at all
    assert (
        feed(
            messages.EVENT_TOPIC_CHARACTER_STATUS,
            character_status("MAP_CHANGED", 1002, channelId=4),
        )
        is None
    )
    record = Character.objects.get(tenant=tenant, character_id=1002)
    assert (record.channel_id, record.online) == (4, True)
    assert [v["type"] for v in values(MEMBER_STATUS, tenant)] == ["LOGIN"]

    feed(messages.EVENT_TOPIC_CHARACTER_STATUS, character_status("DELETED", 1002))
    feed(messages.EVENT_TOPIC_CHARACTER_STATUS, character_status("LOGOUT", 1001, channelId=1))

    assert [v["type"] for v in values(MEMBER_STATUS, tenant)] == ["LOGIN", "LOGOUT", "LOGOUT"]
    assert [v["type"] for v in values(STATUS, tenant)] == ["CREATED", "JOINED", "LEFT", "LEFT"]
    assert not Messenger.objects.filter(tenant=tenant).exists()
    assert Character.objects.filter(tenant=tenant).count() == 2


def test_an_accepted_messenger_invite_joins_and_other_invites_are_not_looked_up(
    feed, tenant_key, fake_services
):
    fake_services.character(tenant_key, 1001, name="Alpha")
    fake_services.character(tenant_key, 1002, name="Bravo")
    feed(messages.COMMAND_TOPIC_MESSENGER, command("CREATE", 1001))

    def accepted(invite_type: str) -> dict:
        return {
            "transactionId": str(uuid.uuid4()),
            "worldId": 0,
            "inviteType": invite_type,
            "referenceId": FIRST,
            "type": "ACCEPTED",
            "body": {"originatorId": 1001, "targetId": 1002},
        }

    party = feed(messages.EVENT_TOPIC_INVITE_STATUS, accepted("PARTY"))
    assert (party.state, party.prepared) == (State.DONE, {"value": {}})
    assert not fake_services.requests_to("characters/1002")
    # CREATED and REJECTED invite events are skipped
    created = {**accepted("MESSENGER"), "type": "CREATED"}
    assert feed(messages.EVENT_TOPIC_INVITE_STATUS, created) is None

    feed(messages.EVENT_TOPIC_INVITE_STATUS, accepted("MESSENGER"))

    tenant = tenant_of(tenant_key)
    assert [(m.character_id, m.slot) for m in Member.objects.filter(tenant=tenant)] == [
        (1001, 0),
        (1002, 1),
    ]
    assert [v["type"] for v in values(STATUS, tenant)] == ["CREATED", "JOINED"]


def test_a_create_with_a_malformed_unused_body_field_still_creates(
    feed, tenant_key, local_directory
):
    given_character(tenant_key, 1001, name="Alpha")
    # CREATE's body has no fields, so a bad messengerId there is not decoded
    row = feed(messages.COMMAND_TOPIC_MESSENGER, command("CREATE", 1001, messengerId="x"))
    assert row.state == State.DONE
    assert Messenger.objects.filter(tenant=tenant_of(tenant_key)).count() == 1


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b'{"actorId":1001,"type":"CREATE",', None, "invalid JSON"),
        (command("JOIN", 1001, messengerId="1"), None, "body.messengerId"),
        (command("JOIN", 1001, messengerId=-1), None, "out of range"),
        (command("REQUEST_INVITE", 1001, characterId=1.5), None, "body.characterId"),
        ({"actorId": "1001", "type": "LEAVE", "body": {}}, None, "actorId"),
        ({"transactionId": "", "actorId": 1, "type": "CREATE"}, None, "transactionId"),
        ({"actorId": 1, "type": "JOIN", "body": [1]}, None, "body"),
        (command("DISBAND", 1001), None, "unknown command type 'DISBAND'"),
        (command("CREATE", 1001), [], "missing TENANT_ID"),
    ],
    ids=[
        "malformed",
        "string id",
        "negative",
        "float",
        "string actor",
        "empty tx",
        "body array",
        "unknown type",
        "no tenant",
    ],
)
def test_bad_input_is_a_dead_letter_and_changes_nothing(
    feed, tenant_key, local_directory, value, headers, reason
):
    given_character(tenant_key, 1001, name="Alpha")

    row = feed(messages.COMMAND_TOPIC_MESSENGER, value, headers=headers)

    assert row.state == State.DEAD
    assert reason in row.error
    assert not Messenger.objects.exists()
    assert not Character.objects.exists()


def test_a_bad_character_event_is_a_dead_letter(feed, tenant_key, local_directory):
    row = feed(
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_status("LOGIN", 1001, channelId=256),
    )
    assert (row.state, "channelId" in row.error) == (State.DEAD, True)


def test_the_consumer_is_upstreams_group_on_three_topics(settings):
    settings.KAFKA_CONSUMER_GROUPS = {}
    consumer = registry.get("messengers")
    assert consumer.group == "Messenger Service"
    assert {token: (s.kind, sorted(s.handlers)) for token, s in consumer.subscriptions.items()} == {
        "COMMAND_TOPIC_MESSENGER": ("command", ["CREATE", "JOIN", "LEAVE", "REQUEST_INVITE"]),
        "EVENT_TOPIC_CHARACTER_STATUS": (
            "event",
            ["CHANNEL_CHANGED", "DELETED", "LOGIN", "LOGOUT"],
        ),
        "EVENT_TOPIC_INVITE_STATUS": ("event", ["ACCEPTED"]),
    }
    assert all(s.start == "earliest" for s in consumer.subscriptions.values())
    assert sorted(consumer.produces) == [
        "COMMAND_TOPIC_INVITE",
        "EVENT_TOPIC_MESSENGER_MEMBER_STATUS",
        "EVENT_TOPIC_MESSENGER_STATUS",
    ]
    # its setting (KAFKA_CONSUMER_GROUP_MESSENGERS, or upstream's KAFKA_CONSUMER_GROUP
    # when it runs alone) overrides it
    settings.KAFKA_CONSUMER_GROUPS = {"messengers": "Messenger Service [pr-1]"}
    assert consumer.group == "Messenger Service [pr-1]"
