"""How handlers fail: refused by the domain, worth retrying, or broken for good.

- ``DomainError``: the service refused the command (capacity, not a member …).
  Raised from inside the service's ``transaction.atomic()`` block, so its changes
  roll back; the inbox then emits the events the error carries (an app's ERROR
  status event) and the record is done. One convention for every app.
- ``Transient``: the cause may go away (a service answered 503, a lock timed
  out); the record is retried with back-off, and dead after ``INBOX_MAX_ATTEMPTS``.
- Anything else is a defect or bad data the decoder let through (a ``ValueError``,
  a ``KeyError``, a NUL a PostgreSQL column refuses): retrying cannot help, so
  the record is dead at once with its reason, and the key goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django import db


@dataclass(frozen=True, slots=True)
class Record:
    """A record to emit: topic token, key bytes, value dict (as ``bus.emit`` takes)."""

    topic: str
    key: bytes
    value: dict


class DomainError(Exception):
    """The domain refused; ``events`` are emitted in place of the rolled-back changes."""

    def __init__(self, reason: str, *, events: Iterable[Record] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.events = list(events)


class Transient(Exception):
    """A failure worth retrying with back-off."""


def _transient_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [
        Transient,
        TimeoutError,
        ConnectionError,
        # Lock timeouts, deadlocks, serialisation failures, a lost connection; a
        # unique violation of a race that a retry will see committed.
        db.OperationalError,
        db.InterfaceError,
        db.IntegrityError,
    ]
    try:
        from celery.exceptions import SoftTimeLimitExceeded

        types.append(SoftTimeLimitExceeded)
    except ImportError:  # pragma: no cover - celery is a dependency
        pass
    try:
        import httpx

        types.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a dependency
        pass
    return tuple(types)


TRANSIENT_TYPES = _transient_types()


def is_transient(exc: BaseException) -> bool:
    """Retry ``exc``'s record later, or give it up now."""
    return isinstance(exc, TRANSIENT_TYPES)


def is_out_of_time(exc: BaseException | None) -> bool:
    """Celery's soft time limit: the task's hard limit follows, so nothing is run again."""
    try:
        from celery.exceptions import SoftTimeLimitExceeded
    except ImportError:  # pragma: no cover - celery is a dependency
        return False
    return isinstance(exc, SoftTimeLimitExceeded)
