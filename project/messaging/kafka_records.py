"""A record whose header name is not UTF-8 must not stop its partition.

kafka-python decodes header names strictly while it reads a fetched batch; one
bad name (bytes ``ff fe``) raises ``CorruptRecordError`` inside ``poll()`` on every
call, and the partition never moves again. This module makes the reader decode
such a name with ``surrogateescape`` instead: the record comes through, the
bridge sees the undecodable name (``has_bad_name``) and keeps the record as a
dead letter, and the partition goes on.

Only the failing batch is re-read that way (its buffer is wrapped, the read
retried from the same position): well-formed records take kafka-python's own path.
"""

from __future__ import annotations

import functools

from kafka.record import default_records


class _TolerantBytes(bytes):
    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return super().decode(encoding, "surrogateescape")


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
    """A header name read with ``surrogateescape`` (not UTF-8), or one holding a NUL."""
    return "\x00" in name or any("\udc80" <= ch <= "\udcff" for ch in name)


def printable_name(name: str) -> str:
    """A header name as it can be stored and shown (bad bytes as ``\\xff``)."""
    raw = name.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


_install()
