"""A record whose header name is not UTF-8 must not stop its partition.

kafka-python decodes header names strictly while it reads a fetched batch; one
bad name (bytes ``ff fe``) raises ``CorruptRecordError`` inside ``poll()`` on every
call, and the partition never moves again. This module makes the reader decode
such a name into a marked, escaped form instead: the record comes through, the
bridge sees the bad name (``has_bad_name``) and keeps the record as a dead
letter, and the partition goes on.

Only the failing batch is re-read that way (its buffer is wrapped, the read
retried from the same position): well-formed records take kafka-python's own path.
"""

from __future__ import annotations

import functools

from kafka.record import default_records

# A name that was not UTF-8 is read as this mark plus its bytes escaped (``\\xff``):
# valid text, which kafka-python can encode again for its size accounting, and
# which no real header name holds.
BAD_NAME_MARK = "\x00"


class _TolerantBytes(bytes):
    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        try:
            return super().decode(encoding, errors)
        except UnicodeDecodeError:
            return BAD_NAME_MARK + super().decode(encoding, "backslashreplace")


class _TolerantBuffer(bytearray):
    """A batch buffer whose slices decode leniently (header names are sliced, then decoded)."""

    def __getitem__(self, item):  # type: ignore[override]
        result = super().__getitem__(item)
        return _TolerantBytes(result) if isinstance(item, slice) else result


def _install() -> None:
    batch_class = default_records.DefaultRecordBatch
    original = batch_class._read_msg
    if getattr(original, "_atlas_tolerant", False):
        return

    @functools.wraps(original)
    def read_msg(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except UnicodeDecodeError:
            # Nothing was consumed yet (the position is stored only at the end).
            self._buffer = _TolerantBuffer(self._buffer)
            return original(self, *args, **kwargs)

    read_msg._atlas_tolerant = True  # type: ignore[attr-defined]
    batch_class._read_msg = read_msg


def has_bad_name(name: str) -> bool:
    """A header name that was not UTF-8 (it carries the mark), or that holds a NUL."""
    return "\x00" in name


def printable_name(name: str) -> str:
    """A header name as it can be stored (PostgreSQL refuses NUL) and shown."""
    return name.replace("\x00", "\\x00")


_install()
