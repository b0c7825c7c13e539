"""Handling stored inbox rows: in order per ordering key, in batches.

A task drains its ordering keys: it locks the oldest pending rows of each key and
handles them in id order. Whichever worker gets a task, rows of one key are
applied in the order the bridge stored them, while rows of other keys run in
parallel on other workers.

Rows are handled in batches of up to ``INBOX_BATCH`` per key; a row that raises
is rolled back alone (savepoints), its failure is recorded, and the rows after it
wait (order), while the rows before it commit. One commit per task instead of one
per row is what keeps a SQLite database, which serialises writers, fast.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from project.db import statements
from project.messaging import bus, coordination, errors, registry, wire
from project.messaging.decoding import Decoded, decode
from project.messaging.models import InboxMessage, Replay
from project.observability import observe
from project.tenancy.rows import tenant_row

logger = logging.getLogger(__name__)

State = InboxMessage.State

# The delay ``process_keys`` reports for a key whose next row must be prepared
# first (its handler's lookups run in ``prepare``, outside any transaction).
PREPARE = -1.0


def process(inbox_id: int, ordering_key: str | None = None) -> float | None:
    """Handle ``inbox_id``'s key: the pending rows before it, it, and any stored since.

    Returns ``None`` when the key is drained, or a delay in seconds after which the
    caller should try again (a row of the key is backing off, or the key had more
    rows than one batch: 0).
    """
    if ordering_key is None:
        own = InboxMessage.objects.filter(id=inbox_id).values_list("ordering_key", "state").first()
        if own is None or own[1] != State.PENDING:
            return None
        ordering_key = own[0]
    retry = process_keys([(inbox_id, ordering_key)])
    return retry[0][2] if retry else None


def process_keys(keys: list[tuple[int, str]]) -> list[tuple[int, str, float]]:
    """Drain several keys in one transaction: every pending row up to the given id,
    and the rows stored since, up to ``INBOX_BATCH`` rows per key.

    Keys are locked in sorted order, so two workers draining overlapping keys
    cannot deadlock on inbox rows; each key's rows run in their own savepoint, so
    a failure stays with its key. One transaction (and one relay wake-up) for all
    keys of a task keeps a trickle of messages over many keys cheap. Returns the
    keys that must be tried again, with their delay in seconds (0 when a key
    simply has more rows than one batch).
    """
    retry: list[tuple[int, str, float]] = []
    remaining = sorted(set(keys), key=lambda item: (item[1], item[0]))
    while remaining:
        unfinished: list[tuple[int, str]] = []
        try:
            with transaction.atomic(durable=True):
                for inbox_id, ordering_key in remaining:
                    rows = _lock_pending(ordering_key)
                    if not rows:
                        # PostgreSQL may return no row when the rows it waited for
                        # were finished meanwhile: look again if ours is pending.
                        if _is_pending(inbox_id):
                            unfinished.append((inbox_id, ordering_key))
                        continue
                    delay = _handle_batch(rows)
                    if delay == PREPARE:
                        continue  # the prepare task sends the key again when done
                    if delay is not None:
                        retry.append((inbox_id, ordering_key, delay))
                    elif rows[-1].id < inbox_id:
                        unfinished.append((inbox_id, ordering_key))
                    elif len(rows) == settings.INBOX_BATCH:
                        retry.append((rows[-1].id, ordering_key, 0.0))  # more came since
        except Exception:  # the transaction rolled back; every key is tried again
            logger.exception("inbox keys %s: transaction failed", [k for _, k in remaining])
            delay = settings.INBOX_RETRY_BASE_SECONDS
            return [(i, k, delay) for i, k in remaining] + [
                item for item in retry if (item[0], item[1]) not in remaining
            ]
        remaining = unfinished
    return retry


def _lock_pending(ordering_key: str) -> list[InboxMessage]:
    """The key's oldest pending rows, locked (``FOR UPDATE`` where the database has it)."""
    return statements.select(
        _pending_rows, [ordering_key, State.PENDING], limit=settings.INBOX_BATCH
    )


def _pending_rows():
    return (
        InboxMessage.objects.select_for_update()
        .filter(ordering_key="", state=State.PENDING)
        .order_by("id")
    )


def _handle_batch(rows: list[InboxMessage]) -> float | None:
    """Handle rows in order inside the caller's transaction; stop at a failure.

    The common case runs the whole batch in one savepoint. If any row raises,
    that savepoint is rolled back and the batch is run again row by row, each in
    its own savepoint, so the failing row is isolated and recorded while the rows
    before it still commit.

    A row interrupted by the task's soft time limit is not run again: the hard
    limit would kill the process during that second run, leaving the attempt
    uncounted and the row retried for ever. Its attempt is counted now, so a
    handler that hangs every time ends as a dead letter (answered by its
    ``on_dead``) after ``INBOX_MAX_ATTEMPTS``.
    """
    try:
        with transaction.atomic():
            return _run_rows_until_prepare(rows, isolate=False)
    except _RowFailed as failed:
        if errors.is_out_of_time(failed.__cause__):
            return _out_of_time(rows, failed.row_id, failed.__cause__)
        return _run_rows_until_prepare(rows, isolate=True)


def _out_of_time(rows: list[InboxMessage], row_id: int, exc: BaseException) -> float | None:
    """The rows before ``row_id`` run again (they had succeeded), ``row_id`` is counted
    as failed without running; the key is sent again for the rows after it."""
    index = next(i for i, row in enumerate(rows) if row.id == row_id)
    if index:
        delay = _run_rows_until_prepare(rows[:index], isolate=True)
        if delay is not None:
            return delay
    delay = _record_failure(rows[index], exc)
    return 0.0 if delay is None else delay


def _run_rows_until_prepare(rows: list[InboxMessage], *, isolate: bool) -> float | None:
    try:
        return _run_rows(rows, isolate=isolate)
    except _PrepareFirst as wait:
        row_id, ordering_key = wait.row_id, rows[0].ordering_key
        transaction.on_commit(lambda: _send_prepare(row_id, ordering_key))
        return PREPARE


class _RowFailed(Exception):
    """A handler raised while running a batch without per-row savepoints."""

    def __init__(self, row_id: int) -> None:
        super().__init__(row_id)
        self.row_id = row_id


def _run_rows(rows: list[InboxMessage], *, isolate: bool) -> float | None:
    now = timezone.now()
    done: list[int] = []
    delay = None
    prepare_row = None
    for row in rows:
        if row.not_before and row.not_before > now:
            delay = (row.not_before - now).total_seconds()
            break
        try:
            if isolate:
                with transaction.atomic():
                    error = _handle(row)
            else:
                error = _handle(row)
        except _NeedsPrepare:
            delay = PREPARE
            prepare_row = row.id
            break
        except Exception as exc:  # recorded on the row, retried later
            if not isolate:
                raise _RowFailed(row.id) from exc
            delay = _record_failure(row, exc)
            if delay is not None:
                break
            continue  # dead: the rows after it go on
        if error:
            InboxMessage.objects.filter(id=row.id).update(
                state=State.DEAD, error=error, handled_at=now
            )
            observe.undecodable(row)
        else:
            done.append(row.id)
    if done:
        statements.update(InboxMessage, done, state=State.DONE, handled_at=now)
    if prepare_row is not None:
        raise _PrepareFirst(prepare_row)
    return delay


class _NeedsPrepare(Exception):
    """The row's handler has a prepare step that has not run yet."""


class _PrepareFirst(Exception):
    """Rows before ``row_id`` are handled; ``row_id`` waits for its prepare step."""

    def __init__(self, row_id: int) -> None:
        super().__init__(row_id)
        self.row_id = row_id


def _is_pending(inbox_id: int) -> bool:
    return InboxMessage.objects.filter(id=inbox_id, state=State.PENDING).exists()


def _decode_row(row: InboxMessage) -> tuple[Decoded | None, str]:
    subscription = registry.get(row.app).subscription_for_topic(row.topic)
    if subscription is None:
        return None, f"app {row.app!r} no longer subscribes to topic {row.topic!r}"
    decoded = decode(subscription, row.header_list, row.value)
    return decoded, decoded.error


def _message(row: InboxMessage, decoded: Decoded, prepared: object = None) -> registry.Message:
    headers = row.header_list
    return registry.Message(
        tenant=tenant_row(decoded.tenant),
        data=decoded.data,
        key=bytes(row.key) if row.key is not None else None,
        inbox_id=row.id,
        environment=wire.environment_from(headers),
        # As upstream's consumers: no valid traceparent starts a new root trace.
        trace=wire.TraceParent.parse(wire.header(headers, wire.TRACEPARENT))
        or wire.TraceParent.root(),
        prepared=prepared,
    )


def _handle(row: InboxMessage) -> str:
    """Decode and hand the row to its handler; return the reason if it cannot be.

    A ``DomainError`` is an answer, not a failure: the service's own savepoint has
    rolled its changes back, the events it carries are emitted here, in the
    batch's transaction, and the row is done.
    """
    decoded, error = _decode_row(row)
    if error or decoded is None or decoded.handler is None:
        return error  # "" for a type no longer handled: done, nothing to do
    handler = decoded.handler
    if handler.prepare is not None and row.prepared is None:
        raise _NeedsPrepare
    prepared = row.prepared["value"] if handler.prepare is not None else None
    message = _message(row, decoded, prepared)
    if row.app in settings.ATLAS_SHADOW:  # upstream's ids in the record, ours in the handler
        from project.shadow import inputs

        message = dataclasses.replace(message, data=inputs.translate(row, message.data))
    with observe.handling(row, message) as cause, bus.caused_by(cause):
        try:
            handler.func(message)
        except errors.DomainError as refused:
            logger.info("inbox row %s refused: %s", row.id, refused.reason)
            errors.answer(message.tenant, refused)
    return ""


def _send_prepare(row_id: int, ordering_key: str) -> None:
    from project.messaging.tasks import prepare_inbox_task

    # Upstream's client: 3 attempts of HTTP_CLIENT_TIMEOUT each, with back-off.
    longest = 3 * (settings.HTTP_CLIENT_TIMEOUT + 2) + 5
    if coordination.claim_prepare(row_id, longest):
        prepare_inbox_task.apply_async(args=[row_id, ordering_key])


def prepare(inbox_id: int) -> float | None:
    """Run the prepare step of a pending row, outside any transaction, and store its result.

    This is where handlers wait on other services (HTTP lookups): no row lock is
    held and no SQLite writer slot is taken while it runs, so a slow service delays
    only its own key. Returns ``None`` when the row is ready for its handler (or
    gone), else the back-off delay before trying again.
    """
    row = InboxMessage.objects.filter(id=inbox_id, state=State.PENDING).first()
    if row is None or row.prepared is not None:
        return None
    decoded, error = _decode_row(row)
    if error or decoded is None or decoded.handler is None or decoded.handler.prepare is None:
        return None  # the handling step will judge it
    message = _message(row, decoded)
    try:
        began = time.perf_counter()
        try:
            with bus.caused_by(bus.Cause(message.environment, message.trace)):
                value = decoded.handler.prepare(message)
        except Exception:
            observe.looked_up(row, time.perf_counter() - began, "failed")
            raise
        observe.looked_up(row, time.perf_counter() - began, "ok")
        stored = {"value": value}
        wire.dumps(stored)  # JSON-serialisable, or a defect of the prepare function
    except Exception as exc:
        with transaction.atomic():
            fresh = InboxMessage.objects.select_for_update().filter(id=inbox_id).first()
            if fresh is None or fresh.state != State.PENDING:
                return None
            return _record_failure(fresh, exc)
    InboxMessage.objects.filter(id=inbox_id, state=State.PENDING).update(prepared=stored)
    return None


def _record_failure(row: InboxMessage, exc: Exception) -> float | None:
    """Count a failed attempt (in the batch's transaction); dead after the last one.

    A failure that retrying cannot cure (see ``errors``) is dead at once. A row
    that dies is answered with its handler's failure event (``on_dead``), in this
    same transaction. Returns the back-off delay, or ``None`` when the row is now dead.
    """
    text = "".join(traceback.format_exception(exc))
    logger.warning("inbox row %s failed: %s", row.id, exc)
    row.attempts += 1
    row.error = text
    now = timezone.now()
    summary = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if errors.is_out_of_time(exc):  # its text is "SoftTimeLimitExceeded()"
        summary = f"{type(exc).__name__}: the task's soft time limit was exceeded"
    if not errors.is_transient(exc):
        row.state = State.DEAD
        row.error = f"permanent failure ({type(exc).__name__}), not retried:\n{text}"
        row.handled_at = now
        delay = None
        _answer_death(row, f"permanent failure: {summary}")
    elif row.attempts >= settings.INBOX_MAX_ATTEMPTS:
        row.state = State.DEAD
        row.error = f"failed {row.attempts} times; last error:\n{text}"
        row.handled_at = now
        delay = None
        _answer_death(row, f"failed {row.attempts} times: {summary}")
    else:
        delay = min(
            settings.INBOX_RETRY_BASE_SECONDS * 2 ** (row.attempts - 1),
            settings.INBOX_RETRY_MAX_SECONDS,
        )
        row.not_before = now + timedelta(seconds=delay)
    row.save(
        update_fields=[
            "attempts",
            "error",
            "state",
            "handled_at",
            "not_before",
            "failure_announced_at",
        ]
    )
    observe.failed(row, exc, delay)
    return delay


def _answer_death(row: InboxMessage, reason: str) -> None:
    """Emit what the row's handler declares for a message that died (``on_dead``).

    Runs in the transaction that marks the row dead, in a savepoint of its own, so
    the failure event and the dead row commit together. The upstream caller (a
    saga, a player's client) is then told, whatever killed the row: a lasting
    database error, a time limit, a defect. A row that cannot be decoded, or whose
    handler declares nothing, stays a plain dead letter. If the hook itself fails,
    the row stays dead unannounced, with the reason added to its error (it may
    then be replayed).
    """
    try:
        with transaction.atomic():
            decoded, error = _decode_row(row)
            handler = decoded.handler if decoded is not None and not error else None
            if handler is None or handler.on_dead is None:
                return
            prepared = row.prepared["value"] if handler.prepare and row.prepared else None
            message = _message(row, decoded, prepared)
            cause = bus.Cause(message.environment, message.trace, row.id, row.app)
            with bus.caused_by(cause):
                records = list(handler.on_dead(message, reason))
                for record in records:
                    bus.emit(
                        tenant=message.tenant,
                        topic=record.topic,
                        key=record.key,
                        value=record.value,
                    )
    except Exception as exc:  # the row stays dead; the operator sees why it was not answered
        logger.exception("inbox row %s died and its failure event could not be emitted", row.id)
        row.error += "\n\nits failure event could not be emitted:\n" + "".join(
            traceback.format_exception(exc)
        )
        return
    if records:
        row.failure_announced_at = timezone.now()
        logger.info(
            "inbox row %s is dead; answered with %s",
            row.id,
            ", ".join(str(record.value.get("type", record.topic)) for record in records),
        )


def enqueue(keys: Iterable[tuple[int, str]], *, coalesce: bool = True) -> None:
    """Send tasks for (newest pending id, ordering key) pairs, several keys per task.

    With ``coalesce``, a key that already has a task waiting is skipped: that
    task drains every pending row of the key (see ``coordination``). A task drains
    its keys in one transaction; keys are spread over tasks so that workers still
    run different keys in parallel.
    """
    from project.messaging.tasks import handle_inbox_task

    keys = list(keys)
    if coalesce:
        keys = coordination.claim_keys(keys)
    size = max(1, settings.INBOX_KEYS_PER_TASK)
    for start in range(0, len(keys), size):
        handle_inbox_task.apply_async(args=[[list(k) for k in keys[start : start + size]]])


def newest_per_key(rows: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """For (id, ordering_key) pairs, the highest id of each key: draining it handles all."""
    newest: dict[str, int] = {}
    for inbox_id, key in rows:
        if inbox_id > newest.get(key, -1):
            newest[key] = inbox_id
    return sorted((inbox_id, key) for key, inbox_id in newest.items())


def replay(rows: Iterable[InboxMessage], *, by: str = "") -> int:
    """Put dead rows back to pending with a fresh attempt count, and enqueue them.

    Each row is first decoded again with today's code: one that is still invalid
    (its reason may have changed) stays dead with the new reason. A row whose
    failure event was emitted (``failure_announced_at``) stays dead: its sender has
    been told it failed and may have undone its own part (a saga gave the item
    back), so handling it now would apply a command nobody waits for (docs/design.md,
    "Failure events of dead letters"). Every replay is recorded (``Replay``: who,
    when, outcome). Returns how many were queued.
    """
    ids = []
    for row in rows:
        if row.state != State.DEAD:
            continue
        if row.failure_announced_at is not None:
            Replay.objects.create(
                message=row,
                by=by,
                outcome=Replay.Outcome.ANNOUNCED,
                detail=f"its failure was announced at {row.failure_announced_at:%Y-%m-%d %H:%M:%S}"
                " UTC; its sender has been told it failed",
            )
            continue
        decoded, error = _decode_row(row)
        if error:
            InboxMessage.objects.filter(id=row.id).update(error=error)
            Replay.objects.create(
                message=row, by=by, outcome=Replay.Outcome.STILL_INVALID, detail=error
            )
            continue
        InboxMessage.objects.filter(id=row.id, state=State.DEAD).update(
            state=State.PENDING,
            attempts=0,
            not_before=None,
            enqueued_at=timezone.now(),
            tenant=tenant_row(decoded.tenant) if decoded and decoded.tenant else row.tenant,
            message_type=decoded.stored_type if decoded else "",
        )
        Replay.objects.create(message=row, by=by, outcome=Replay.Outcome.QUEUED)
        ids.append((row.id, row.ordering_key))
    transaction.on_commit(lambda: enqueue(newest_per_key(ids)))
    return len(ids)


def sweep_stale(limit: int = 1000) -> int:
    """Re-enqueue keys whose pending rows were enqueued long ago and not handled.

    Only the running services' rows (``registry.running``): a service taken out of
    ATLAS_SERVICES (given back to its Go service) leaves its pending rows as they
    are, to be handled if it runs here again.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.INBOX_STALE_SECONDS)
    stale = list(
        InboxMessage.objects.filter(
            state=State.PENDING, enqueued_at__lt=cutoff, app__in=list(registry.running())
        )
        .order_by("id")
        .values_list("id", "ordering_key")[:limit]
    )
    if not stale:
        return 0
    with transaction.atomic():
        InboxMessage.objects.filter(id__in=[i for i, _ in stale]).update(enqueued_at=timezone.now())
    ids = newest_per_key(stale)
    enqueue(ids, coalesce=False)
    return len(ids)
