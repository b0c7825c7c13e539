"""A messenger command the inbox gives up on is answered with ERROR_UNEXPECTED to its
actor (its transaction id echoed), as upstream answers every failure of its
processor; character events are not.

In-process against the real database: the bridge's ``store``, the lookups worker's
``inbox.prepare`` and the worker's ``inbox.process`` are called directly. The lasting
database error is real: a trigger makes the database refuse every new messenger (or
every new registry record).
"""

from __future__ import annotations

import uuid

import pytest

from messengers import messages
from messengers.models import Character, Messenger
from project.messaging.models import InboxMessage
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.delivery import Feed
from tests.messengers.support import STATUS, error
from tests.support import database_refuses_inserts, given_character, values

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_retries", "local_directory")]

State = InboxMessage.State
TX = uuid.UUID("3f0c1e6e-8a55-4c1e-9f00-3a1c2b7d9e01")


def handle(tenant: TenantKey, token: str, value: dict, key: int) -> InboxMessage:
    """Store the record as the bridge would, run its lookups, then its handling until
    the inbox is done with it."""
    return Feed("messengers", tenant)(token, value, key=key)


def test_a_create_that_dies_is_answered_with_error_unexpected(tenant_key):
    # given a character of world 2 and a database that refuses new messengers
    given_character(tenant_key, 1001, name="Alpha", world_id=2)
    create = {"transactionId": str(TX), "actorId": 1001, "type": "CREATE", "body": {}}
    with database_refuses_inserts(Messenger._meta.db_table):
        row = handle(tenant_key, messages.COMMAND_TOPIC_MESSENGER, create, key=1001)

    # then it is dead, and the actor is told, with the command's transaction id
    assert (row.state, row.attempts) == (State.DEAD, 2)
    assert row.failure_announced_at is not None
    tenant = tenant_row(tenant_key)
    assert values(STATUS, tenant) == [
        error(messages.ERROR_UNEXPECTED, actor=1001, messenger=0, world=2, tx=TX)
    ]
    assert not Messenger.objects.filter(tenant=tenant).exists()


def test_a_join_that_dies_is_answered_for_the_messenger_it_names(tenant_key):
    given_character(tenant_key, 1002, name="Beta", world_id=1)
    join = {"actorId": 1002, "type": "JOIN", "body": {"messengerId": 9}}
    with database_refuses_inserts(Character._meta.db_table):
        row = handle(tenant_key, messages.COMMAND_TOPIC_MESSENGER, join, key=1002)

    assert row.state == State.DEAD
    assert values(STATUS, tenant_row(tenant_key)) == [
        error(messages.ERROR_UNEXPECTED, actor=1002, messenger=9, world=1)
    ]


def test_an_accepted_messenger_invite_whose_join_dies_is_answered_to_the_target(tenant_key):
    given_character(tenant_key, 1003, name="Gamma", world_id=1)
    accepted = {
        "transactionId": str(TX),
        "worldId": 1,
        "inviteType": "MESSENGER",
        "referenceId": 4,
        "type": "ACCEPTED",
        "body": {"originatorId": 1001, "targetId": 1003},
    }
    with database_refuses_inserts(Character._meta.db_table):
        row = handle(tenant_key, messages.EVENT_TOPIC_INVITE_STATUS, accepted, key=4)

    assert row.state == State.DEAD
    assert values(STATUS, tenant_row(tenant_key)) == [
        error(messages.ERROR_UNEXPECTED, actor=1003, messenger=4, world=1, tx=TX)
    ]


def test_a_character_event_that_dies_is_not_answered(tenant_key):
    given_character(tenant_key, 1004, name="Delta", world_id=1)
    login = {
        "transactionId": str(TX),
        "worldId": 1,
        "characterId": 1004,
        "type": "LOGIN",
        "body": {"channelId": 1, "mapId": 100000000},
    }
    with database_refuses_inserts(Character._meta.db_table):
        row = handle(tenant_key, messages.EVENT_TOPIC_CHARACTER_STATUS, login, key=1004)

    assert row.state == State.DEAD
    assert row.failure_announced_at is None
    assert values(STATUS, tenant_row(tenant_key)) == []
