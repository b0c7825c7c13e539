"""Everything about the bytes on Kafka that is not one app's JSON.

Key bytes, header codecs, W3C trace context, the ENVIRONMENT header, topic
resolution and Go-compatible JSON. Apps describe their JSON
in their own ``messages.py``; this module is the only other place that knows the wire.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

ENVIRONMENT = "ENVIRONMENT"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

Headers = list[tuple[str, bytes]]


class WireError(ValueError):
    """A record cannot be decoded; the message becomes a dead letter with this reason."""


# --- keys -----------------------------------------------------------------------------


def key_u32(value: int) -> bytes:
    """Upstream ``CreateKey(id)``: uint32 little-endian followed by four zero bytes."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"key id {value} is not a uint32")
    return struct.pack("<I", value) + b"\0\0\0\0"


def key_text(value: uuid.UUID | str) -> bytes:
    """UUID keys (saga ids, route and voyage ids) travel as their ASCII text."""
    return str(value).encode("ascii")


# --- topics ---------------------------------------------------------------------------


@cache
def topic_name(token: str) -> str:
    """Resolve a topic token the upstream way: the env var of that name, else the token.

    Read from the process environment (not settings) because the set of tokens is
    open-ended and belongs to the apps; the answer is cached for the process life.
    """
    return os.environ.get(token) or token


# --- headers --------------------------------------------------------------------------


def header(headers: Iterable[tuple[str, bytes | None]], name: str) -> bytes | None:
    """The last value of a header (Kafka allows repeats; the Go parsers keep the last)."""
    found = None
    for key, value in headers:
        if key == name:
            found = value if value is not None else b""
    return found


def environment_from(headers: Iterable[tuple[str, bytes | None]]) -> str:
    raw = header(headers, ENVIRONMENT)
    if not raw:
        return ""
    return raw.decode("utf-8", errors="replace")


_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A W3C ``traceparent``: version 00, trace id, parent (span) id, flags."""

    trace_id: str
    span_id: str
    flags: str = "01"

    @classmethod
    def parse(cls, raw: bytes | str | None) -> TraceParent | None:
        """Parse a header value; anything invalid is treated as absent (a new root)."""
        if raw is None:
            return None
        text = raw.decode("ascii", errors="replace") if isinstance(raw, bytes) else raw
        match = _TRACEPARENT.match(text.strip())
        if not match:
            return None
        version, trace_id, span_id, flags = match.groups()
        if version == "ff" or trace_id == "0" * 32 or span_id == "0" * 16:
            return None
        return cls(trace_id, span_id, flags)

    @classmethod
    def root(cls) -> TraceParent:
        return cls(secrets.token_hex(16), _span_id(), "01")

    def child(self) -> TraceParent:
        """Same trace, a fresh span id: what a produced message carries."""
        return TraceParent(self.trace_id, _span_id(), self.flags)

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def _span_id() -> str:
    span = secrets.token_hex(8)
    return span if span != "0" * 16 else "0000000000000001"


def outbound_headers(
    tenant_headers: Headers, *, environment: str, trace: TraceParent | None
) -> Headers:
    """Headers for a produced record: span, tenant, environment (only when non-empty)."""
    out: Headers = []
    if trace is not None:
        out.append((TRACEPARENT, str(trace.child()).encode("ascii")))
    out.extend(tenant_headers)
    if environment:
        out.append((ENVIRONMENT, environment.encode("utf-8")))
    return out


# --- JSON -----------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise WireError(f"invalid JSON: {name} is not allowed")


def loads(raw: bytes | None) -> dict:
    """Decode a record value as Go's ``encoding/json`` would into a struct.

    The top level must be an object; NaN and Infinity are rejected; duplicate keys
    keep the last value. Field types are checked by the app's schema.
    """
    if raw is None or raw == b"":
        raise WireError("empty record value")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"record value is not UTF-8: {exc}") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except WireError:
        raise
    except ValueError as exc:  # JSONDecodeError, and ints beyond Python's digit limit
        raise WireError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise WireError("invalid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise WireError(f"JSON value must be an object, got {type(value).__name__}")
    if _SURROGATE_ESCAPE.search(text):
        try:
            value = _replace_lone_surrogates(value)
        except RecursionError:
            raise WireError("invalid JSON: nested too deeply") from None
    return value


# A \uD800 to \uDFFF escape. Paired ones make one character; Go's decoder turns a lone
# one into U+FFFD, where Python's would keep a str that cannot be encoded again.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _replace_lone_surrogates(value: object) -> object:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    return value


_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def dumps(value: dict) -> bytes:
    """Encode like Go's ``encoding/json``: compact, raw UTF-8, HTML characters escaped.

    Dict order is kept, so callers build dicts in upstream struct field order.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.translate(_GO_ESCAPES).encode("utf-8")


def go_time(value: dt.datetime) -> str:
    """RFC 3339 with up to nanosecond digits, trailing zeros trimmed (Go RFC3339Nano)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    utc_offset = value.utcoffset() or dt.timedelta(0)
    # Not strftime: it writes year 1 (Go's zero time) as "1", not "0001".
    base = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    fraction = f"{value.microsecond:06d}".rstrip("0")
    if fraction:
        base += "." + fraction
    if utc_offset == dt.timedelta(0):
        return base + "Z"
    minutes = int(utc_offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{base}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
