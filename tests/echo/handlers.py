"""PING command → an Effect row and a PONG event; used by platform tests and benchmarks.

Body flags make failure modes reproducible: ``broken`` raises a ``ValueError``
(a permanent failure: dead at once); ``refuse`` writes an effect and raises a
``DomainError`` carrying a REFUSED event (the effect rolls back, the event is
emitted); ``fail`` raises ``Transient`` until a file
``allow-<seq>`` appears in ``ECHO_MARKER_DIR`` (the row dies after
INBOX_MAX_ATTEMPTS; once allowed, a replay succeeds); ``hang`` blocks the first
attempt after writing a marker file in ``ECHO_MARKER_DIR`` so a test can kill the
worker mid-transaction.

DOOMED is a PING, DOOMED_LOOKUP a LOOKUP, whose death is answered (``on_dead``):
a DIED event with the reason; with ``unanswerable`` the answer itself fails.
"""

import os
import time
from pathlib import Path

from django.db import transaction

from project import directory
from project.directory import characters
from project.messaging import bus, errors, registry, wire
from project.messaging.schemas import U32, UUID, Bool, GoSchema, Object, Str
from tests.echo.models import Effect

COMMAND_TOPIC_ECHO = "COMMAND_TOPIC_ECHO"
EVENT_TOPIC_ECHO = "EVENT_TOPIC_ECHO"
EVENT_TOPIC_ECHO_INPUT = "EVENT_TOPIC_ECHO_INPUT"


class PingBody(GoSchema):
    id = U32()
    seq = U32()
    fail = Bool()
    broken = Bool()
    refuse = Bool()
    hang = Bool()
    unanswerable = Bool()


class PingCommand(GoSchema):
    transactionId = UUID()
    type = Str()
    body = Object(PingBody)


class SeenEvent(GoSchema):
    characterId = U32()
    type = Str()


consumer = registry.consumer("echo", group="Echo Service", produces=[EVENT_TOPIC_ECHO])


@consumer.command(COMMAND_TOPIC_ECHO, "PING", PingCommand)
def on_ping(message: registry.Message) -> None:
    body = message.data["body"]
    if body["hang"]:
        marker_dir = os.environ.get("ECHO_MARKER_DIR")
        marker = Path(marker_dir or ".") / f"hang-{message.inbox_id}"
        if marker_dir and not marker.exists():
            Effect.objects.create(
                tenant=message.tenant, key_id=body["id"], seq=body["seq"], inbox_id=message.inbox_id
            )
            marker.write_text("hanging")
            time.sleep(120)
    if body["fail"]:
        allowed = Path(os.environ.get("ECHO_MARKER_DIR") or ".") / f"allow-{body['seq']}"
        if not allowed.exists():
            raise errors.Transient(f"echo told to fail (seq {body['seq']})")
    if body["refuse"]:
        with transaction.atomic():  # a service's own block: rolled back by the refusal
            Effect.objects.create(
                tenant=message.tenant, key_id=body["id"], seq=body["seq"], inbox_id=message.inbox_id
            )
            raise errors.DomainError(
                "echo told to refuse",
                events=[
                    errors.Record(
                        topic=EVENT_TOPIC_ECHO,
                        key=wire.key_u32(body["id"]),
                        value={"id": body["id"], "seq": body["seq"], "type": "REFUSED"},
                    )
                ],
            )
    if body["broken"]:
        raise ValueError(f"echo told it is broken (seq {body['seq']})")
    Effect.objects.create(
        tenant=message.tenant, key_id=body["id"], seq=body["seq"], inbox_id=message.inbox_id
    )
    bus.emit(
        tenant=message.tenant,
        topic=EVENT_TOPIC_ECHO,
        key=wire.key_u32(body["id"]),
        value={
            "transactionId": str(message.data["transactionId"]),
            "id": body["id"],
            "seq": body["seq"],
            "type": "PONG",
            "body": {},
        },
    )


def answer_death(message: registry.Message, reason: str) -> list[errors.Record]:
    """DOOMED's failure event: DIED, keyed by the ping id, with the reason."""
    body = message.data["body"]
    if body.get("unanswerable"):
        raise ValueError(f"echo cannot answer the death of seq {body['seq']}")
    return [
        errors.Record(
            topic=EVENT_TOPIC_ECHO,
            key=wire.key_u32(body["id"]),
            value={"id": body["id"], "seq": body.get("seq", 0), "type": "DIED", "reason": reason},
        )
    ]


consumer.command(COMMAND_TOPIC_ECHO, "DOOMED", PingCommand, on_dead=answer_death)(on_ping)


@consumer.event(EVENT_TOPIC_ECHO_INPUT, "SEEN", SeenEvent)
def on_seen(message: registry.Message) -> None:
    Effect.objects.create(
        tenant=message.tenant, key_id=message.data["characterId"], seq=0, inbox_id=message.inbox_id
    )


class LookupBody(GoSchema):
    id = U32()
    characterId = U32()


class LookupCommand(GoSchema):
    transactionId = UUID()
    type = Str()
    body = Object(LookupBody)


def look_up_character(message: registry.Message) -> dict | None:
    """The prepare step: ask the character service (or the local directory)."""
    try:
        found = characters.fetch(message.tenant.key, message.data["body"]["characterId"])
    except directory.NotFound:
        return None
    return found.as_json()


@consumer.command(COMMAND_TOPIC_ECHO, "LOOKUP", LookupCommand, prepare=look_up_character)
def on_lookup(message: registry.Message) -> None:
    """An effect whose seq is the looked-up level (0: unknown character)."""
    body = message.data["body"]
    level = message.prepared["level"] if message.prepared else 0
    Effect.objects.create(
        tenant=message.tenant, key_id=body["id"], seq=level, inbox_id=message.inbox_id
    )


consumer.command(
    COMMAND_TOPIC_ECHO,
    "DOOMED_LOOKUP",
    LookupCommand,
    prepare=look_up_character,
    on_dead=answer_death,
)(on_lookup)
