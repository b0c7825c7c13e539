"""How handlers fail: refused by the domain, worth retrying, or broken for good.

- ``DomainError``: the service refused (capacity, not a member, no such note …).
  Raised from inside the service's ``transaction.atomic()`` block, so its changes
  roll back. It carries both answers: ``events``, the Kafka answer (an app's ERROR
  status event; none when upstream answers nothing), and ``status``, the REST
  answer. The inbox emits the events and the record is done; ``rest.route``
  answers the status; a service marked ``answered`` emits the events itself and
  returns its refused value. One convention for every app.
- ``Transient``: the cause may go away (a service answered 503, a lock timed
  out); the record is retried with back-off, and dead after ``INBOX_MAX_ATTEMPTS``.
- Anything else is a defect or bad data the decoder let through (a ``ValueError``,
  a ``KeyError``, a NUL a PostgreSQL column refuses): retrying cannot help, so
  the record is dead at once with its reason, and the key goes on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from django import db
from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    """A record to emit: topic token, key bytes, value dict (as ``bus.emit`` takes)."""

    topic: str
    key: bytes
    value: dict


class DomainError(Exception):
    """The domain refused; ``events`` are emitted in place of the rolled-back changes.

    ``status`` is the REST answer (with an empty body); an app's subclass sets its
    own, e.g. notes' "no such note" is upstream's 500.
    """

    status: ClassVar[int] = 400

    def __init__(self, reason: str, *, events: Iterable[Record] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.events = list(events)


Service = TypeVar("Service", bound=Callable[..., Any])


def answered(service: Service | None = None, *, refused: Callable[[], Any] = lambda: None) -> Any:
    """Mark a service whose refusals are answered where it is called.

    The ``DomainError`` it raises (its own savepoint rolled back; what it did
    before, such as recording a lookup's answers, stays) is logged, its events are
    emitted in the caller's transaction, and the call returns ``refused()``
    (``None`` by default). So the inbox, an admin action and a test calling the
    service directly see the same outcome. Services that REST also calls stay
    unmarked: there the refusal becomes the error's ``status``.
    """

    def mark(func: Service) -> Service:
        @functools.wraps(func)
        def call(**kwargs: Any) -> Any:
            try:
                return func(**kwargs)
            except DomainError as refusal:
                logger.info("%s refused: %s", func.__qualname__, refusal.reason)
                answer(kwargs["tenant"], refusal)
                return refused()

        call.refusing = func  # type: ignore[attr-defined]  # raising, for callers that compose
        return call  # type: ignore[return-value]

    return mark(service) if service is not None else mark


def answer(tenant: Any, refusal: DomainError) -> None:
    """Emit a refusal's events in the caller's transaction (or one of their own)."""
    from project.messaging import bus

    if refusal.events:
        opened = transaction.get_connection().in_atomic_block
        with contextlib.nullcontext() if opened else transaction.atomic():
            for record in refusal.events:
                bus.emit_record(tenant, record)


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
