"""The shared contracts: invite CREATE bytes as parties and messengers send them, and
the character status schemas every app decodes with."""

from __future__ import annotations

import uuid

import pytest

from project.contracts import character_status
from project.contracts import invites as invite_contracts
from project.messaging import wire


def test_party_invite_create_has_no_transaction_id():
    command = invite_contracts.create_command(
        world_id=1, invite_type="PARTY", originator_id=1001, target_id=1002, reference_id=10**9
    )
    assert wire.dumps(command) == (
        b'{"worldId":1,"inviteType":"PARTY","type":"CREATE",'
        b'"body":{"originatorId":1001,"targetId":1002,"referenceId":1000000000}}'
    )


def test_messenger_invite_create_carries_its_transaction_id():
    tx = uuid.UUID("5b0f7a8e-3c1d-4f55-9a7e-2d4c6b8a1f04")
    command = invite_contracts.create_command(
        transaction_id=tx,
        world_id=0,
        invite_type="MESSENGER",
        originator_id=1001,
        target_id=1002,
        reference_id=10**9,
    )
    assert wire.dumps(command).startswith(
        b'{"transactionId":"5b0f7a8e-3c1d-4f55-9a7e-2d4c6b8a1f04","worldId":0,'
    )
    assert invite_contracts.command_key(10**9) == wire.key_u32(10**9)


def test_invite_status_event_decodes_without_transaction_id():
    data = invite_contracts.StatusEvent().load(
        wire.loads(
            b'{"worldId":1,"inviteType":"PARTY","referenceId":1000000000,"type":"ACCEPTED",'
            b'"body":{"originatorId":1001,"targetId":1002}}'
        )
    )
    assert data["transactionId"] == uuid.UUID(int=0)
    assert data["body"] == {"originatorId": 1001, "targetId": 1002}


def test_level_changed_rejects_a_level_out_of_u8_range():
    schema = character_status.SCHEMAS[character_status.LEVEL_CHANGED]()
    raw = (
        b'{"transactionId":"6d1f3d0a-3a7e-4c1b-8c2f-5f6b7e1d2c3a","worldId":0,"characterId":1,'
        b'"type":"LEVEL_CHANGED","body":{"channelId":1,"amount":1,"current":300}}'
    )
    with pytest.raises(Exception, match="current"):
        schema.load(wire.loads(raw))


def test_every_character_event_type_has_a_schema():
    assert set(character_status.SCHEMAS) == {
        "LOGIN",
        "LOGOUT",
        "CHANNEL_CHANGED",
        "MAP_CHANGED",
        "DELETED",
        "LEVEL_CHANGED",
        "JOB_CHANGED",
        "GM_CHANGED",
        "NAME_CHANGED",
    }
