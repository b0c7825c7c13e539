"""Registering handlers: services called with the message's fields, checked at start-up."""

from __future__ import annotations

import uuid

import pytest

from project.messaging import registry
from project.messaging.schemas import U8, U32, UUID, GoSchema, Object, Str


class Body(GoSchema):
    targetId = U32()
    useTargetPosition = U8()


class Command(GoSchema):
    transactionId = UUID()
    worldId = U8()
    type = Str()
    body = Object(Body)


def test_args_merge_envelope_and_body_in_snake_case():
    data = {
        "transactionId": uuid.UUID(int=1),
        "worldId": 2,
        "type": "X",
        "body": {"targetId": 7, "useTargetPosition": 1},
    }
    assert registry.flatten(data) == {
        "transaction_id": uuid.UUID(int=1),
        "world_id": 2,
        "target_id": 7,
        "use_target_position": 1,
    }


def test_a_body_field_shadowing_the_envelope_is_refused():
    with pytest.raises(ValueError, match="shadows"):
        registry.flatten({"worldId": 1, "body": {"worldId": 2}})


def test_a_service_handler_passes_only_what_the_service_declares():
    calls = []

    def service(*, tenant, target_id: int, world_id: int = 0, prepared=None) -> None:
        calls.append((tenant, target_id, world_id, prepared))

    handler = registry.service_handler(service, Command)
    message = registry.Message(
        tenant="T",
        data={
            "transactionId": uuid.UUID(int=0),
            "worldId": 3,
            "type": "X",
            "body": {"targetId": 9},
        },
        key=None,
        inbox_id=1,
        environment="",
        trace=None,
        prepared={"level": 10},
    )
    handler(message)
    assert calls == [("T", 9, 3, {"level": 10})]


def test_a_service_needing_a_field_the_schema_lacks_fails_at_registration():
    def service(*, tenant, party_id: int) -> None: ...

    with pytest.raises(ValueError, match="party_id"):
        registry.service_handler(service, Command)


def test_a_service_with_kwargs_is_refused():
    def service(**kwargs) -> None: ...

    with pytest.raises(ValueError, match="no \\*\\*kwargs"):
        registry.service_handler(service, Command)


def test_extra_arguments_are_computed_from_the_message():
    calls = []

    def service(*, tenant, target_id: int, looked_up) -> None:
        calls.append((tenant, target_id, looked_up))

    handler = registry.service_handler(
        service, Command, {"looked_up": lambda m: m.prepared["level"] * 2}
    )
    handler(
        registry.Message(
            tenant="T",
            data={"worldId": 0, "type": "X", "body": {"targetId": 4}},
            key=None,
            inbox_id=1,
            environment="",
            trace=None,
            prepared={"level": 21},
        )
    )
    assert calls == [("T", 4, 42)]
