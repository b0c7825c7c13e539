"""The hooks the messaging code calls: one line at each point worth observing.

Each hook counts (``metrics``), traces (``tracing``, a no-op unless
``TRACE_ENDPOINT`` is set) and, for handled rows, logs one INFO line. Counts and
log lines of handled rows are taken when the inbox transaction commits
(``transaction.on_commit``): a batch that rolls back and runs again row by row,
or a transaction that fails, is not counted twice. Those callbacks are robust: a
failure in one is logged by Django and never keeps the platform's own after-commit
work (relay wake-ups, prepare tasks) from running.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from django.db import transaction

from project.messaging import bus
from project.observability import diagnostics, logs, metrics, tracing


def clock() -> int:
    """A wall-clock timestamp in nanoseconds (span times), taken before the work it times."""
    return time.time_ns()


# --- bridge -------------------------------------------------------------------


def polled(group: str, client) -> None:
    """After each poll: the bridge reports the partitions it holds (throttled)."""
    diagnostics.report_assignment(group, client)


def stored(app: str, records: list, rows: list) -> None:
    """A polled batch's rows were built: count skipped records and bridge dead letters.

    Called before the rows' transaction; a store that fails and is retried counts
    its records again (the bridge logs each such failure).
    """
    kept = {(row.topic, row.partition, row.offset) for row in rows}
    for record in records:
        if (record.topic, record.partition, record.offset) not in kept:
            metrics.SKIPPED.labels(app, record.topic).inc()
    for row in rows:
        if row.error:
            metrics.DEAD.labels(app, row.topic, "bridge").inc()


def consumed(consumer, records: list, polled_ns: int) -> None:
    """A polled batch is stored: count it and export its consume spans."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.topic] = counts.get(record.topic, 0) + 1
    for topic, count in counts.items():
        metrics.CONSUMED.labels(consumer.app, topic).inc(count)
    tracing.consume_spans(consumer.app, consumer.group, records, polled_ns, clock())


# --- worker -------------------------------------------------------------------


@contextlib.contextmanager
def handling(row, message) -> Iterator[bus.Cause]:
    """Around one handler call: time it, trace it; yields the cause of the records it emits
    (the message's environment and trace, the trace naming the handle span when traced)."""
    began = time.perf_counter()
    try:
        with tracing.handle_span(row, message.trace) as trace:
            yield bus.Cause(message.environment, trace, row.id, row.app)
    except BaseException:
        row._observed_seconds = time.perf_counter() - began
        raise
    seconds = time.perf_counter() - began
    tenant = str(message.tenant.key) if message.tenant is not None else ""
    transaction.on_commit(lambda: _handled(row, tenant, seconds), robust=True)


def _handled(row, tenant: str, seconds: float) -> None:
    metrics.HANDLED.labels(row.app, row.topic).inc()
    metrics.HANDLER_SECONDS.labels(row.app, row.topic).observe(seconds)
    logs.handled(row, tenant=tenant, outcome="done", seconds=seconds)


def looked_up(row, seconds: float, outcome: str) -> None:
    """A prepare step (the lookups of a handler) returned (``ok``) or raised (``failed``)."""
    metrics.LOOKUP_SECONDS.labels(row.app, row.topic, outcome).observe(seconds)


def failed(row, exc: BaseException, delay: float | None) -> None:
    """A handler (or prepare step) raised and the failure is recorded on the row."""
    seconds = getattr(row, "_observed_seconds", None)
    tenant = str(row.tenant.key) if row.tenant_id is not None else ""
    outcome = "dead" if delay is None else "retry"
    transaction.on_commit(lambda: _failed(row, tenant, outcome, seconds), robust=True)


def undecodable(row) -> None:
    """The worker found a row it cannot decode (a replayed dead letter still bad): dead."""
    tenant = str(row.tenant.key) if row.tenant_id is not None else ""
    transaction.on_commit(lambda: _dead_on_arrival(row, tenant), robust=True)


def _dead_on_arrival(row, tenant: str) -> None:
    metrics.DEAD.labels(row.app, row.topic, "worker").inc()
    logs.handled(row, tenant=tenant, outcome="dead", seconds=None)


def _failed(row, tenant: str, outcome: str, seconds: float | None) -> None:
    metrics.FAILURES.labels(row.app, row.topic).inc()
    if seconds is not None:
        metrics.HANDLER_SECONDS.labels(row.app, row.topic).observe(seconds)
    if outcome == "dead":
        metrics.DEAD.labels(row.app, row.topic, "worker").inc()
    logs.handled(row, tenant=tenant, outcome=outcome, seconds=seconds)


# --- relay --------------------------------------------------------------------


def published(rows: list, acked: list[int], started_ns: int) -> None:
    """A batch was sent; the rows with ids ``acked`` were acknowledged and marked sent."""
    if not acked:
        return
    now = clock()
    metrics.PUBLISH_SECONDS.observe((now - started_ns) / 1e9)
    done = set(acked)
    sent = [row for row in rows if row.id in done]
    counts: dict[str, int] = {}
    for row in sent:
        counts[row.topic] = counts.get(row.topic, 0) + 1
    for topic, count in counts.items():
        metrics.PUBLISHED.labels(topic).inc(count)
    tracing.publish_spans(sent, started_ns, now)
