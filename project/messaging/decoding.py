"""From record bytes to a handler call, or to the precise reason it cannot be made.

The bridge runs this to sort records into handled, skipped and dead; the worker
runs it again on the stored row (so a replayed dead letter is judged afresh).
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import ValidationError

from project import tenancy
from project.messaging import kafka_records, wire
from project.messaging.registry import Handler, Subscription


@dataclass(frozen=True, slots=True)
class Decoded:
    type: str
    handler: Handler | None = None
    tenant: tenancy.TenantKey | None = None
    data: dict | None = None
    error: str = ""

    @property
    def stored_type(self) -> str:
        """The type as the inbox column holds it: bounded, NUL shown (PostgreSQL refuses it)."""
        return self.type.replace("\x00", "\\x00")[:64]

    @property
    def skipped(self) -> bool:
        return self.handler is None and not self.error


# Larger records are refused where they enter: an event echoing such a field would
# be over the producer's 1 MiB limit, and no Atlas message comes near this.
MAX_VALUE_BYTES = 512 * 1024


def decode(
    subscription: Subscription, headers: list[tuple[str, bytes | None]], value: bytes | None
) -> Decoded:
    """Never raises: any problem with the record is the reason it is a dead letter."""
    try:
        return _decode(subscription, headers, value)
    except Exception as exc:  # a defect of a schema, or input nobody foresaw
        return Decoded(type="", error=f"undecodable record ({type(exc).__name__}): {exc}"[:2000])


def _decode(
    subscription: Subscription, headers: list[tuple[str, bytes | None]], value: bytes | None
) -> Decoded:
    bad_names = [
        kafka_records.printable_name(n) for n, _ in headers if kafka_records.has_bad_name(n)
    ]
    if bad_names:
        names = ", ".join(bad_names)
        return Decoded(type="", error=f"header names not valid UTF-8 or holding NUL: {names}")
    if value is not None and len(value) > MAX_VALUE_BYTES:
        return Decoded(type="", error=f"record value is {len(value)} bytes, over {MAX_VALUE_BYTES}")
    try:
        document = wire.loads(value)
    except wire.WireError as exc:
        return Decoded(type="", error=str(exc))
    type_ = _type_of(document)
    if not isinstance(type_, str):
        return Decoded(type="", error=f"'type' must be a JSON string, got {type_!r}"[:500])
    handler = subscription.handlers.get(type_)
    if handler is None:
        if subscription.kind == "event":
            return Decoded(type=type_)
        return Decoded(
            type=type_, error=f"unknown command type {type_[:80]!r} on {subscription.token}"
        )
    try:
        tenant = tenancy.from_kafka_headers(headers)
    except tenancy.InvalidTenant as exc:
        return Decoded(type=type_, error=f"invalid tenant headers: {exc}")
    try:
        data = handler.loader.load(document)
    except ValidationError as exc:
        return Decoded(type=type_, error=f"invalid {type_} message: {_flatten(exc.messages)}")
    return Decoded(type=type_, handler=handler, tenant=tenant, data=data)


def _type_of(document: dict) -> object:
    """The ``type`` field, found case-insensitively like every other Go field."""
    found: object = ""
    for key, value in document.items():
        if key.lower() == "type":
            found = value
    return "" if found is None else found


def _flatten(messages: object, prefix: str = "") -> str:
    if isinstance(messages, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in messages.items())
    if isinstance(messages, list):
        return (
            ", ".join(str(m) for m in messages)
            if prefix == ""
            else (f"{prefix[:-1]}: " + ", ".join(str(m) for m in messages))
        )
    return f"{prefix[:-1]}: {messages}"
