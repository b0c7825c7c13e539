"""Character status events at the service level: the cache and member status."""

from __future__ import annotations

import uuid

import pytest

from parties import services
from parties.lookups import LookedUp
from parties.models import Character, Party
from tests.parties.support import (
    MEMBER_TOPIC,
    cache,
    error,
    facts,
    member_statuses,
    status,
    statuses,
)
from tests.parties.test_party_services import make_party
from tests.support import new_tenant, outbox_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    return new_tenant()


def cached(tenant, character_id: int) -> Character:
    return Character.objects.get(tenant=tenant, character_id=character_id)


def member_event(type_: str, *, party: int, character: int, world: int = 1, body=None) -> dict:
    return {
        "worldId": world,
        "partyId": party,
        "characterId": character,
        "type": type_,
        "body": body or {},
    }


# --- LOGIN / LOGOUT -------------------------------------------------------------------


def test_login_of_a_member_sets_online_and_channel_and_tells_the_party(tenant):
    party_id = make_party(tenant, 1001, 1002)
    Character.objects.filter(character_id=1002).update(map_id=100, name="Old")
    fresh = facts(1002, name="New", level=70, job_id=311, gm=0)

    services.character_login(
        tenant=tenant, character_id=1002, channel_id=4, looked_up=LookedUp(fresh=fresh)
    )

    character = cached(tenant, 1002)
    # the event's map and world are not applied, only its channel
    assert (character.online, character.channel_id, character.map_id) == (True, 4, 100)
    assert character.world_id == 1
    assert (character.name, character.level, character.job_id) == ("New", 70, 311)
    # refreshed values produce no LEVEL/JOB/NAME events, only LOGIN
    assert member_statuses(tenant) == [member_event("LOGIN", party=party_id, character=1002)]
    assert bytes(outbox_rows(MEMBER_TOPIC, tenant)[0].key) == bytes.fromhex("00ca9a3b00000000")


def test_login_of_an_unknown_character_populates_it_without_an_event(tenant):
    known = facts(1002, map_id=300, channel_id=1)

    services.character_login(
        tenant=tenant, character_id=1002, channel_id=2, looked_up=LookedUp({1002: known}, known)
    )

    character = cached(tenant, 1002)
    assert (character.online, character.channel_id, character.map_id) == (True, 2, 300)
    assert member_statuses(tenant) == []


def test_login_with_a_failed_lookup_does_nothing(tenant):
    services.character_login(
        tenant=tenant, character_id=1002, channel_id=2, looked_up=LookedUp({1002: None})
    )

    assert not Character.objects.exists()


def test_login_keeps_cached_values_when_the_refetch_fails(tenant):
    cache(tenant, 1002, name="Kept", level=12)

    services.character_login(
        tenant=tenant, character_id=1002, channel_id=3, looked_up=LookedUp(fresh=None)
    )

    character = cached(tenant, 1002)
    assert (character.name, character.level, character.online) == ("Kept", 12, True)


def test_logout_of_the_leader_keeps_the_leadership(tenant):
    party_id = make_party(tenant, 1001, 1002)
    services.character_login(tenant=tenant, character_id=1001, channel_id=1)

    services.character_logout(tenant=tenant, character_id=1001)

    assert cached(tenant, 1001).online is False
    assert Party.objects.get(tenant=tenant).leader_id == 1001
    assert [e["type"] for e in member_statuses(tenant)] == ["LOGIN", "LOGOUT"]
    assert member_statuses(tenant)[-1] == member_event("LOGOUT", party=party_id, character=1001)
    assert statuses(tenant) == []


def test_events_of_a_character_in_no_party_tell_nobody(tenant):
    cache(tenant, 1001)

    services.character_login(tenant=tenant, character_id=1001, channel_id=1)
    services.character_level_changed(tenant=tenant, character_id=1001, current=31)
    services.character_job_changed(tenant=tenant, character_id=1001, job_id=120)
    services.character_name_changed(tenant=tenant, character_id=1001, new_name="Z")
    services.character_logout(tenant=tenant, character_id=1001)

    assert member_statuses(tenant) == []
    assert (cached(tenant, 1001).level, cached(tenant, 1001).name) == (31, "Z")


# --- CHANNEL_CHANGED, MAP_CHANGED -----------------------------------------------------


def test_channel_and_map_changes_are_stored_without_events(tenant):
    make_party(tenant, 1001)

    services.character_channel_changed(tenant=tenant, character_id=1001, channel_id=7)
    services.character_map_changed(tenant=tenant, character_id=1001, target_map_id=211000000)

    character = cached(tenant, 1001)
    assert (character.channel_id, character.map_id) == (7, 211000000)
    assert member_statuses(tenant) == []


def test_a_character_event_for_an_unknown_character_populates_the_cache(tenant):
    services.character_map_changed(
        tenant=tenant,
        character_id=1005,
        target_map_id=5,
        looked_up=LookedUp({1005: facts(1005, level=9)}),
    )
    services.character_map_changed(
        tenant=tenant, character_id=1006, target_map_id=5, looked_up=LookedUp({1006: None})
    )

    assert (cached(tenant, 1005).level, cached(tenant, 1005).map_id) == (9, 5)
    assert not Character.objects.filter(character_id=1006).exists()


# --- LEVEL_CHANGED, JOB_CHANGED -------------------------------------------------------


def test_level_and_job_changes_of_a_member_are_told_even_when_unchanged(tenant):
    party_id = make_party(tenant, 1001)
    Character.objects.filter(character_id=1001).update(level=30, job_id=110, name="Ann")

    services.character_level_changed(tenant=tenant, character_id=1001, current=31)
    services.character_level_changed(tenant=tenant, character_id=1001, current=31)
    services.character_job_changed(tenant=tenant, character_id=1001, job_id=111)

    assert member_statuses(tenant) == [
        member_event(
            "LEVEL_CHANGED",
            party=party_id,
            character=1001,
            body={"oldLevel": 30, "newLevel": 31, "name": "Ann"},
        ),
        member_event(
            "LEVEL_CHANGED",
            party=party_id,
            character=1001,
            body={"oldLevel": 31, "newLevel": 31, "name": "Ann"},
        ),
        member_event(
            "JOB_CHANGED",
            party=party_id,
            character=1001,
            body={"oldJobId": 110, "newJobId": 111, "name": "Ann"},
        ),
    ]


# --- GM_CHANGED, NAME_CHANGED ---------------------------------------------------------


def test_gm_changed_takes_the_gm_level_the_character_service_gives_now(tenant):
    cache(tenant, 1001, gm=0)

    services.character_gm_changed(
        tenant=tenant, character_id=1001, looked_up=LookedUp(fresh=facts(1001, gm=3))
    )
    assert cached(tenant, 1001).gm == 3
    services.character_gm_changed(tenant=tenant, character_id=1001, looked_up=LookedUp(fresh=None))
    assert cached(tenant, 1001).gm == 3
    # a GM may no longer create
    services.party_create(tenant=tenant, actor_id=1001)
    assert statuses(tenant)[-1]["body"]["type"] == "AS_A_GM_YOURE_FORBIDDEN_FROM_CREATING_A_PARTY"


def test_name_changed_is_told_only_when_the_name_changes(tenant):
    party_id = make_party(tenant, 1001)
    Character.objects.filter(character_id=1001).update(name="Ann")

    services.character_name_changed(tenant=tenant, character_id=1001, new_name="Ann")
    services.character_name_changed(tenant=tenant, character_id=1001, new_name="Anna")

    assert member_statuses(tenant) == [
        member_event(
            "NAME_CHANGED",
            party=party_id,
            character=1001,
            body={"oldName": "Ann", "newName": "Anna"},
        )
    ]


# --- DELETED --------------------------------------------------------------------------


def test_a_deleted_leader_disbands_with_the_events_transaction(tenant):
    party_id = make_party(tenant, 1001, 1002)
    tx = uuid.uuid4()

    services.character_deleted(tenant=tenant, character_id=1001, transaction_id=tx)

    assert statuses(tenant) == [
        status(
            "DISBAND",
            actor=1001,
            world=1,
            party=party_id,
            body={"members": [1001, 1002]},
            tx=str(tx),
        )
    ]
    assert not Character.objects.filter(character_id=1001).exists()
    assert cached(tenant, 1002).party is None
    assert not Party.objects.exists()


def test_a_deleted_member_leaves_with_the_events_transaction(tenant):
    party_id = make_party(tenant, 1001, 1002)
    tx = uuid.uuid4()

    services.character_deleted(tenant=tenant, character_id=1002, transaction_id=tx)

    assert statuses(tenant) == [status("LEFT", actor=1002, world=1, party=party_id, tx=str(tx))]
    assert not Character.objects.filter(character_id=1002).exists()


def test_a_deleted_character_in_no_party_is_unexpected_with_party_0(tenant):
    cache(tenant, 1003, world_id=4)

    services.character_deleted(tenant=tenant, character_id=1003, transaction_id=uuid.uuid4())
    services.character_deleted(
        tenant=tenant,
        character_id=1004,
        transaction_id=uuid.uuid4(),
        looked_up=LookedUp({1004: None}),
    )

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1003, world=4, party=0),
        error("ERROR_UNEXPECTED", actor=1004, world=0, party=0),
    ]
    assert not Character.objects.exists()
