"""The outbox relay: publish committed outbox rows in id order, then mark them sent.

Exactly one relay publishes at a time. On PostgreSQL leadership is a session
advisory lock held on a dedicated connection (released by the server if the
process dies); on SQLite, which is single-host anyway, an exclusive ``flock`` on a
file beside the database. A second relay waits as standby and takes over within
a second of the leader's exit.

Rows are marked sent only after the broker acknowledged them, so a crash between
publish and mark publishes them again (at least once); on the wire each key sees
its records in outbox order. Rows for a topic the cluster will not create wait,
in order, while the other topics' rows go on (``kafka.ensure_topics`` says why).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Collection, Iterator

import psycopg
from django.conf import settings
from django.db import close_old_connections, transaction
from django.dispatch import Signal
from django.utils import timezone
from kafka import errors as kafka_errors
from kafka.errors import KafkaError

from project.db import statements
from project.messaging import coordination, kafka, registry
from project.messaging.models import OutboxMessage, load_headers
from project.observability import observe

logger = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x41544C53  # "ATLS"
# Sent with the ids of a batch the broker acknowledged, before they are marked sent:
# the one instant a crash publishes them again (the tests' crash hook listens here).
acknowledged = Signal()
# Rows for a topic that does not exist and cannot be created wait (unsent, in
# order) while the other topics' rows go on; the topic is looked for this often.
MISSING_TOPICS_RECHECK_SECONDS = 30


class Relay:
    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.published = 0
        self.unreachable = kafka.UnreachableNotice("relay")

    def run(self) -> None:
        while not self.stop.is_set():
            with leadership(self.stop) as leader:
                if not leader:
                    return
                logger.info("relay is the leader; publishing")
                try:
                    self._publish_until_stopped(leader)
                except kafka.UNREACHABLE as exc:
                    self.unreachable.report(exc)
                    self.stop.wait(2)
                except Exception:
                    logger.exception("relay loop failed; restarting in 2 s")
                    self.stop.wait(2)

    def _publish_until_stopped(self, leader: Leader) -> None:
        missing = set(kafka.ensure_topics(registry.produced_topics()))
        missing_checked = time.monotonic()
        producer = kafka.producer()
        wakeups = coordination.RelayWakeups()
        try:
            while not self.stop.is_set():
                leader.check()
                close_old_connections()
                if missing and time.monotonic() - missing_checked > MISSING_TOPICS_RECHECK_SECONDS:
                    missing = set(kafka.ensure_topics(missing))  # created meanwhile?
                    missing_checked = time.monotonic()
                rows = next_rows(missing)
                if not rows:
                    wakeups.wait(settings.OUTBOX_RELAY_POLL_SECONDS, self.stop)
                    continue
                sent = self._publish(producer, rows)
                if sent < len(rows):
                    producer.close(timeout=1)
                    self.stop.wait(1)
                    missing |= set(kafka.ensure_topics({row.topic for row in rows[sent:]}))
                    missing_checked = time.monotonic()
                    producer = kafka.producer()
        finally:
            producer.close(timeout=5)
            wakeups.close()

    def _publish(self, producer, rows: list[OutboxMessage]) -> int:
        """Send, flush, mark the acknowledged prefix sent; return how many rows are done.

        A row the broker (or the producer) refuses for good — too large, an
        invalid topic — is parked instead of retried for ever: marked with the
        error, shown in the admin, and skipped, so the rows after it go on.
        """
        started_ns = observe.clock()
        futures = []
        parked: list[tuple[int, str]] = []
        for row in rows:
            try:
                futures.append(
                    producer.send(
                        row.topic,
                        key=bytes(row.key),
                        value=bytes(row.value),
                        headers=load_headers(row.headers),
                    )
                )
            except KafkaError as exc:  # e.g. metadata for a missing topic timed out
                if _refused_for_good(exc):
                    parked.append((row.id, f"{type(exc).__name__}: {exc}"))
                    futures.append(None)
                    continue
                logger.warning("cannot send outbox row %s: %s", row.id, exc)
                break
        rows = rows[: len(futures)]
        try:
            producer.flush(timeout=150)
        except KafkaError as exc:
            logger.warning("flush failed: %s", exc)
        acked = []
        parked_ids = {row_id for row_id, _ in parked}
        for row, future in zip(rows, futures, strict=True):
            if row.id in parked_ids:
                continue
            if not (future.is_done and future.succeeded()):
                if future.is_done and _refused_for_good(future.exception):
                    parked.append(
                        (row.id, f"{type(future.exception).__name__}: {future.exception}")
                    )
                    parked_ids.add(row.id)
                    continue
                logger.warning("publish of outbox row %s failed: %s", row.id, future.exception)
                break
            acked.append(row.id)
        done = len(acked) + len(parked_ids)
        if parked:
            _park(parked)
        if acked:
            acknowledged.send(Relay, ids=acked)
            with transaction.atomic():
                statements.update(OutboxMessage, acked, sent_at=timezone.now())
            self.published += len(acked)
        observe.published(rows, acked, started_ns)
        return done


def next_rows(missing: Collection[str] = ()) -> list[OutboxMessage]:
    """The oldest unsent, unparked rows not held by shadow mode, up to
    ``OUTBOX_RELAY_BATCH`` (read on every call); rows for the ``missing`` topics wait
    while the other topics' rows go on."""
    limit = settings.OUTBOX_RELAY_BATCH
    if missing:
        return list(_unsent_rows(excluding=missing)[:limit])
    return statements.select(_unsent_rows, [OutboxMessage.Shadow.NONE], limit=limit)


def _unsent_rows(excluding: Collection[str] = ()):
    # A shadowed service's rows are held (compared with upstream's), not published.
    unsent = OutboxMessage.objects.filter(
        sent_at=None, parked_at=None, shadow=OutboxMessage.Shadow.NONE
    )
    if excluding:
        unsent = unsent.exclude(topic__in=sorted(excluding))
    return unsent.order_by("id").only("id", "topic", "key", "value", "headers")


# Errors no retry can cure: the record itself is wrong for this broker.
_PERMANENT = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.InvalidTopicError,
    kafka_errors.CorruptRecordError,
    kafka_errors.UnsupportedForMessageFormatError,
)


def _refused_for_good(exc: BaseException | None) -> bool:
    return isinstance(exc, _PERMANENT)


def _park(parked: list[tuple[int, str]]) -> None:
    now = timezone.now()
    with transaction.atomic():
        for row_id, error in parked:
            logger.error("outbox row %s parked, the broker refuses it for good: %s", row_id, error)
            OutboxMessage.objects.filter(id=row_id).update(parked_at=now, error=error[:2000])


class Leader:
    """A held leadership; ``check`` raises if it was lost."""

    def __init__(self, connection: psycopg.Connection | None = None) -> None:
        self.connection = connection

    def check(self) -> None:
        if self.connection is not None:
            self.connection.execute("SELECT 1")


@contextlib.contextmanager
def leadership(stop: threading.Event) -> Iterator[Leader | None]:
    """Block until this process leads (or ``stop`` is set: yields ``None``)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        with _advisory_lock(db, stop) as leader:
            yield leader
    else:
        with _file_lock(db["NAME"] + ".relay.lock", stop) as leader:
            yield leader


@contextlib.contextmanager
def _advisory_lock(db: dict, stop: threading.Event) -> Iterator[Leader | None]:
    announced = False
    while not stop.is_set():
        try:
            connection = psycopg.connect(
                dbname=db["NAME"],
                user=db["USER"] or None,
                password=db["PASSWORD"] or None,
                host=db["HOST"] or None,
                port=db["PORT"] or None,
                autocommit=True,
            )
        except psycopg.Error as exc:
            logger.warning("relay cannot reach the database: %s", exc)
            stop.wait(2)
            continue
        try:
            while not stop.is_set():
                row = connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY]
                ).fetchone()
                if row and row[0]:
                    yield Leader(connection)
                    return
                if not announced:
                    logger.info("another relay is the leader; standing by")
                    announced = True
                stop.wait(1)
        finally:
            with contextlib.suppress(Exception):
                connection.close()
    yield None


@contextlib.contextmanager
def _file_lock(path: str, stop: threading.Event) -> Iterator[Leader | None]:
    announced = False
    with open(path, "a+b") as handle:
        while not stop.is_set():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not announced:
                    logger.info("another relay is the leader; standing by")
                    announced = True
                stop.wait(1)
                continue
            try:
                yield Leader()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            return
        yield None
