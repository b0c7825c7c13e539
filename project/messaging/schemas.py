"""Marshmallow building blocks that decode JSON with Go's ``encoding/json`` rules.

Upstream decodes every message into a typed Go struct, so a Python consumer must
be at least as strict:

* integers only as integer literals in range — ``1.0``, ``1e3``, ``"7"`` and
  ``true`` are errors (``bool`` is an ``int`` in Python, not in Go);
* ``null`` and an absent key both give the zero value;
* object keys match field names case-insensitively, the last one wins;
* unknown keys are ignored.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

NIL_UUID = uuid.UUID(int=0)


class GoField(fields.Field):
    """A field whose absent or ``null`` value is the Go zero value."""

    def zero(self) -> Any:
        """The Go zero value of the field's type; each concrete field names its own."""
        return None

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("load_default", self.zero)
        super().__init__(**kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kw: Any) -> Any:
        if value is None:
            return self.zero()
        return super().deserialize(value, attr, data, **kw)


class Int(GoField):
    """A Go integer type given by its bit size and signedness (``uint32`` = ``Int(32)``)."""

    def __init__(self, bits: int = 32, *, signed: bool = False, **kwargs: Any) -> None:
        self.low = -(1 << (bits - 1)) if signed else 0
        self.high = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        self.go_type = f"{'int' if signed else 'uint'}{bits}"
        super().__init__(**kwargs)

    def zero(self) -> int:
        return 0

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"must be a JSON integer ({self.go_type}), got {value!r}")
        if not self.low <= value <= self.high:
            raise ValidationError(f"{value} is out of range for {self.go_type}")
        return value


def U8(**kwargs: Any) -> Int:
    return Int(8, **kwargs)


def U16(**kwargs: Any) -> Int:
    return Int(16, **kwargs)


def U32(**kwargs: Any) -> Int:
    return Int(32, **kwargs)


def I16(**kwargs: Any) -> Int:
    return Int(16, signed=True, **kwargs)


def I32(**kwargs: Any) -> Int:
    return Int(32, signed=True, **kwargs)


class Str(GoField):
    """A string; ``max_length`` and ``printable`` bound what the database must store.

    Go accepts any length and NUL characters; a field that is stored (and indexed,
    or echoed in an event) declares its bounds here, so a record over them is a
    dead letter on every database alike, instead of a PostgreSQL error.
    """

    def __init__(
        self, *, max_length: int | None = None, no_nul: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.no_nul = no_nul

    def zero(self) -> str:
        return ""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(f"must be a JSON string, got {str(value)[:80]!r}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(f"longer than {self.max_length} characters ({len(value)})")
        if self.no_nul and "\x00" in value:
            raise ValidationError("must not contain a NUL character")
        return value


class Bool(GoField):
    def zero(self) -> bool:
        return False

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError(f"must be true or false, got {value!r}")
        return value


class UUID(GoField):
    """``google/uuid``: canonical, 32-hex, braced and ``urn:uuid:`` forms; not ``""``."""

    def zero(self) -> uuid.UUID:
        return NIL_UUID

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> uuid.UUID:
        if not isinstance(value, str):
            raise ValidationError(f"must be a UUID string, got {value!r}")
        text = value
        if len(text) == 45 and text[:9].lower() == "urn:uuid:":
            text = text[9:]
        elif len(text) == 38 and text[0] == "{" and text[-1] == "}":
            text = text[1:-1]
        if len(text) == 36 and all(text[i] == "-" for i in (8, 13, 18, 23)):
            hex_digits = text.replace("-", "")
        elif len(text) == 32:
            hex_digits = text
        else:
            raise ValidationError(f"invalid UUID {value!r}")
        # Only hex digits: uuid.UUID(hex=…) would also take "0x…", "+…" or spaces.
        if not _HEX32.fullmatch(hex_digits):
            raise ValidationError(f"invalid UUID {value!r}")
        return uuid.UUID(hex=hex_digits)


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")


class Time(GoField):
    """RFC 3339 with optional fraction of any length (Go ``time.Time``)."""

    def zero(self) -> dt.datetime:
        return dt.datetime(1, 1, 1, tzinfo=dt.UTC)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValidationError(f"must be an RFC 3339 time, got {value!r}")
        date_time, fraction, zone = match.groups()
        offset = dt.timedelta(0)
        if zone != "Z":
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                raise ValidationError(f"must be an RFC 3339 time, got {value!r}")
            offset = dt.timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
        try:
            base = dt.datetime.fromisoformat(date_time)
        except ValueError:
            raise ValidationError(f"must be an RFC 3339 time, got {value!r}") from None
        micro = int((fraction + "000000")[:6]) if fraction else 0
        return base.replace(microsecond=micro, tzinfo=dt.timezone(offset))


# Go's strict RFC 3339 (time.Time.UnmarshalJSON): "T", two-digit fields, an optional
# "." and at least one digit, then "Z" or ±hh:mm. Python's fromisoformat alone would
# also take "z", "+0200", "+02", "05.Z" and a naive time.
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)


class Object(GoField):
    """A nested struct: an object, or ``null``/absent for all-zero fields."""

    def __init__(self, schema: type[GoSchema], **kwargs: Any) -> None:
        self.schema_class = schema
        super().__init__(**kwargs)

    @functools.cached_property
    def _schema(self) -> GoSchema:
        # Building a Schema is costly and ``load`` keeps no state: one instance serves all.
        return self.schema_class()

    def zero(self) -> dict:
        return self._schema.load({})

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise ValidationError(f"must be a JSON object, got {type(value).__name__}")
        return self._schema.load(value)


class List(GoField):
    """A slice: an array, or ``null``/absent for an empty one."""

    def __init__(self, inner: fields.Field, **kwargs: Any) -> None:
        self.inner = inner
        super().__init__(**kwargs)

    def zero(self) -> list:
        return []

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise ValidationError(f"must be a JSON array, got {type(value).__name__}")
        return [self.inner.deserialize(item) for item in value]


class GoSchema(Schema):
    """Base for every consumed message schema."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _match_keys_case_insensitively(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        by_lower = {
            (field.data_key or name).lower(): field.data_key or name
            for name, field in self.load_fields.items()
        }
        matched: dict[str, Any] = {}
        for key, value in data.items():
            target = key if key in by_lower.values() else by_lower.get(key.lower())
            if target is not None:
                matched[target] = value
        return matched
