"""After the switch: the group a switched service keeps, whatever the settings say
once ``ATLAS_SHADOW`` no longer names it, and ids of ours that never name one of
upstream's."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import transaction

from notes import services as notes
from project.messaging import bridge, registry, wire
from project.messaging.models import InboxMessage, store_headers
from project.shadow import switch
from project.shadow.models import IdPair, ShadowService, UnknownInput
from project.tenancy import sequences
from tests.shadow.records import upstream
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

SHADOW_GROUP = "Notes Service (atlas-social shadow)"


@pytest.fixture(autouse=True)
def _no_groups_kept():
    yield
    registry.pin_groups({})


@pytest.fixture
def redeployed_with_the_go_services_environment(settings):
    """The deployment after the switch: ``ATLAS_SHADOW`` cleared, and the Go service's
    ``KAFKA_CONSUMER_GROUP`` still set (settings.py makes it the one service's group)."""
    settings.ATLAS_SHADOW = []
    settings.SHADOW_UPSTREAM_GROUPS = {}
    settings.KAFKA_CONSUMER_GROUPS = {"notes": "Notes Service"}


def test_a_switched_service_consumes_under_its_shadow_group_once_shadow_mode_is_cleared(
    redeployed_with_the_go_services_environment, settings
):
    notes = registry.get("notes")
    assert notes.group == "Notes Service"  # what the settings alone would give: upstream's
    ShadowService.objects.create(app="notes", state="live", group=SHADOW_GROUP)
    assert switch.keep_groups() == {"notes": (SHADOW_GROUP, "Notes Service")}
    assert notes.group == SHADOW_GROUP
    # the bridge's consumer and its assignment watch join the kept group
    thread = bridge.AppBridge(notes, threading.Event())
    assert thread.spec.group == SHADOW_GROUP
    assert thread.assignment_watch.group == SHADOW_GROUP
    # settings naming the kept group (as shadow_switch says to): nothing to say
    settings.KAFKA_CONSUMER_GROUPS = {"notes": SHADOW_GROUP}
    assert switch.keep_groups() == {}
    assert notes.group == SHADOW_GROUP


def test_a_service_still_in_shadow_or_never_switched_keeps_no_group(
    redeployed_with_the_go_services_environment,
):
    ShadowService.objects.create(app="notes", state="shadow")
    assert switch.keep_groups() == {}
    assert registry.get("notes").group == "Notes Service"


def party_created(party: int) -> dict:
    return {"actorId": 7, "worldId": 0, "partyId": party, "type": "CREATED", "body": {},
            "transactionId": str(uuid.UUID(int=0))}  # fmt: skip


def test_the_switch_moves_our_id_sequences_past_every_id_upstream_was_seen_to_give(settings):
    settings.ATLAS_SHADOW = ["parties", "notes"]
    tenant = new_tenant()
    other_version = new_tenant(minor=2, tenant_uuid=tenant.uuid)  # upstream scopes by id
    elsewhere = new_tenant()
    with transaction.atomic():
        assert sequences.next_id(tenant=tenant, name="party") == sequences.FIRST_ID
    IdPair.objects.create(service="parties", tenant=str(tenant.uuid), kind="party",
                          ours=str(sequences.FIRST_ID), theirs="1000000900")  # fmt: skip
    # a party upstream made that ours never paired (the comparer found it missing here)
    upstream(tenant, "parties", "EVENT_TOPIC_PARTY_STATUS", wire.key_u32(1000000950),
             party_created(1000000950))  # fmt: skip
    # a JOIN naming a party upstream made before the shadow started
    join = InboxMessage.objects.create(
        app="parties", consumer_group="Party Service (atlas-social shadow)",
        topic=wire.topic_name("COMMAND_TOPIC_PARTY"), partition=0, offset=1, key=b"7",
        headers=store_headers(tenant.key.kafka_headers()), value=b"{}", message_type="JOIN",
        ordering_key="parties:1",
    )  # fmt: skip
    UnknownInput.objects.create(inbox_id=join.id, kind="party", theirs="1000000990")
    # notes: one sequence for every tenant, upstream's a thousand ahead of ours
    ahead = notes.note_create(tenant=tenant, character_id=7, sender_id=3, message="m",
                              flag=0).id + 1000  # fmt: skip
    body = {"noteId": ahead, "senderId": 3, "message": "m", "flag": 0, "time": "t"}
    created = {"transactionId": str(uuid.uuid4()), "characterId": 7, "type": "CREATED",
               "body": body}  # fmt: skip
    upstream(elsewhere, "notes", "EVENT_TOPIC_NOTE_STATUS", wire.key_u32(7), created)

    assert switch.advance_ids("parties") == {"party": 1000000990}
    with transaction.atomic():
        assert sequences.next_id(tenant=tenant, name="party") == 1000000991
        assert sequences.next_id(tenant=other_version, name="party") == 1000000991
        assert sequences.next_id(tenant=elsewhere, name="party") == sequences.FIRST_ID
    assert switch.advance_ids("notes") == {"note": ahead}
    note = notes.note_create(tenant=tenant, character_id=7, sender_id=3, message="m", flag=0)
    assert note.id == ahead + 1
    # never moved back: a second run, or ours already past upstream's
    IdPair.objects.all().delete()
    assert switch.advance_ids("parties") == {"party": 1000000990}
    with transaction.atomic():
        assert sequences.next_id(tenant=tenant, name="party") == 1000000992
