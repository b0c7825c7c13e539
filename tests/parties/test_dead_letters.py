"""A party command the inbox gives up on is answered with ERROR_UNEXPECTED to its
actor, as upstream answers every failure of its processor; character events are not.

In-process against the real database: the bridge's ``store``, the lookups worker's
``inbox.prepare`` and the worker's ``inbox.process`` are called directly. The lasting
database error is real: a trigger makes the database refuse every new party (or
every new cached character).
"""

from __future__ import annotations

import uuid

import pytest

from parties import messages
from parties.models import Character, Party
from project.messaging.models import InboxMessage
from project.tenancy.rows import tenant_row
from tests.delivery import Feed
from tests.parties.support import cache, error, statuses
from tests.support import database_refuses_inserts, given_character

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_retries")]

State = InboxMessage.State


@pytest.fixture
def feed(tenant_key) -> Feed:
    return Feed("parties", tenant_key)


def command(type_: str, actor: int, body: dict) -> dict:
    return {"actorId": actor, "type": type_, "transactionId": str(uuid.uuid4()), "body": body}


def test_a_create_that_dies_is_answered_with_error_unexpected_in_the_looked_up_world(
    feed, tenant_key
):
    # given an uncached warrior of world 2 and a database that refuses new parties
    given_character(tenant_key, 300, world_id=2, job_id=110, name="Hero")
    with database_refuses_inserts(Party._meta.db_table):
        # when his CREATE is tried until the inbox gives up
        row = feed(messages.COMMAND_TOPIC_PARTY, command("CREATE", 300, {}), key=300)

    # then it is dead and answered: ERROR_UNEXPECTED to him, party 0, his world
    assert (row.state, row.attempts) == (State.DEAD, 2)
    assert row.failure_announced_at is not None
    tenant = tenant_row(tenant_key)
    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=300, world=2, party=0)]
    assert not Party.objects.filter(tenant=tenant).exists()


def test_a_create_of_a_cached_character_that_dies_is_answered_in_the_cached_world(feed, tenant_key):
    # given a cached character of world 3 (nothing to look up)
    tenant = tenant_row(tenant_key)
    cache(tenant, 301, world_id=3)
    with database_refuses_inserts(Party._meta.db_table):
        row = feed(messages.COMMAND_TOPIC_PARTY, command("CREATE", 301, {}), key=301)

    assert row.state == State.DEAD
    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=301, world=3, party=0)]


def test_a_join_that_dies_is_answered_for_the_party_it_names(feed, tenant_key):
    # given an uncached character whose first cache entry the database refuses
    given_character(tenant_key, 304, world_id=1)
    with database_refuses_inserts(Character._meta.db_table):
        row = feed(messages.COMMAND_TOPIC_PARTY, command("JOIN", 304, {"partyId": 5}), key=304)

    assert row.state == State.DEAD
    assert statuses(tenant_row(tenant_key)) == [
        error("ERROR_UNEXPECTED", actor=304, world=1, party=5)
    ]


def test_an_accepted_party_invite_whose_join_dies_is_answered_to_the_target(feed, tenant_key):
    # given an uncached target of world 1 whose JOIN the database refuses (no new
    # cached character can be written)
    given_character(tenant_key, 302, world_id=1, name="Joiner")
    accepted = {
        "transactionId": str(uuid.uuid4()),
        "worldId": 1,
        "inviteType": "PARTY",
        "referenceId": 7,
        "type": "ACCEPTED",
        "body": {"originatorId": 300, "targetId": 302},
    }
    with database_refuses_inserts(Character._meta.db_table):
        row = feed(messages.EVENT_TOPIC_INVITE_STATUS, accepted, key=7)

    # then the target is told, for the party he accepted
    assert row.state == State.DEAD
    assert statuses(tenant_row(tenant_key)) == [
        error("ERROR_UNEXPECTED", actor=302, world=1, party=7)
    ]


def test_a_character_event_that_dies_is_not_answered(feed, tenant_key):
    given_character(tenant_key, 303, world_id=1)
    level_changed = {
        "transactionId": str(uuid.uuid4()),
        "worldId": 1,
        "characterId": 303,
        "type": "LEVEL_CHANGED",
        "body": {"channelId": 1, "amount": 1, "current": 31},
    }
    with database_refuses_inserts(Character._meta.db_table):
        row = feed(messages.EVENT_TOPIC_CHARACTER_STATUS, level_changed, key=303)

    assert row.state == State.DEAD
    assert row.failure_announced_at is None
    assert statuses(tenant_row(tenant_key)) == []
