"""Handling stored inbox rows: one transaction per row, in order per ordering key.

``process(inbox_id)`` drains the row's ordering key up to and including that row:
it repeatedly locks the oldest pending row of the key and handles it. Whichever
worker gets a task, rows of one key are applied in the order the bridge stored
them, while rows of other keys run in parallel on other workers.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from project.messaging import bus, registry, wire
from project.messaging.decoding import decode
from project.messaging.models import InboxMessage
from project.messaging.tenants import tenant_row

logger = logging.getLogger(__name__)

State = InboxMessage.State


def process(inbox_id: int) -> float | None:
    """Handle ``inbox_id`` and every older pending row of its key.

    Returns ``None`` when the row is finished (done or dead), or a delay in seconds
    after which the caller should try again (an older row of the key is backing off).
    """
    own = InboxMessage.objects.filter(id=inbox_id).values_list("ordering_key", "state").first()
    if own is None or own[1] != State.PENDING:
        return None
    ordering_key = own[0]
    while True:
        head_id: int | None = None
        try:
            with transaction.atomic(durable=True):
                head = (
                    InboxMessage.objects.select_for_update()
                    .filter(ordering_key=ordering_key, state=State.PENDING, id__lte=inbox_id)
                    .order_by("id")
                    .first()
                )
                if head is None:
                    # PostgreSQL may return no row when the head it waited for was
                    # finished meanwhile; look again unless our own row is done.
                    if _is_pending(inbox_id):
                        continue
                    return None
                head_id = head.id
                now = timezone.now()
                if head.not_before and head.not_before > now:
                    return (head.not_before - now).total_seconds()
                _handle(head)
        except Exception as exc:
            if head_id is None:
                logger.exception("inbox row %s: could not lock its key", inbox_id)
                return settings.INBOX_RETRY_BASE_SECONDS
            delay = _record_failure(head_id, exc)
            if head_id == inbox_id and delay is None:
                return None
            return delay if delay is not None else 0.0
        if head_id == inbox_id:
            return None


def _is_pending(inbox_id: int) -> bool:
    return InboxMessage.objects.filter(id=inbox_id, state=State.PENDING).exists()


def _handle(row: InboxMessage) -> None:
    """Decode and hand the row to its handler; mark it done (or dead if undecodable)."""
    subscription = registry.get(row.app).subscription_for_topic(row.topic)
    headers = row.header_list
    now = timezone.now()
    if subscription is None:
        decoded_error = f"app {row.app!r} no longer subscribes to topic {row.topic!r}"
        handler = None
    else:
        decoded = decode(subscription, headers, row.value)
        decoded_error, handler = decoded.error, decoded.handler
    if decoded_error or handler is None:
        row.state = State.DEAD if decoded_error else State.DONE
        row.error = decoded_error
        row.handled_at = now
        row.save(update_fields=["state", "error", "handled_at"])
        return
    tenant = tenant_row(decoded.tenant)
    message = registry.Message(
        tenant=tenant,
        data=decoded.data,
        key=bytes(row.key) if row.key is not None else None,
        inbox_id=row.id,
        environment=wire.environment_from(headers),
        trace=wire.TraceParent.parse(wire.header(headers, wire.TRACEPARENT)),
    )
    with bus.caused_by(bus.Cause(message.environment, message.trace)):
        handler.func(message)
    row.state = State.DONE
    row.tenant = tenant
    row.handled_at = now
    row.save(update_fields=["state", "tenant", "handled_at"])


def _record_failure(inbox_id: int, exc: Exception) -> float | None:
    """Count a failed attempt; after ``INBOX_MAX_ATTEMPTS`` the row is dead.

    Returns the back-off delay, or ``None`` when the row is now dead.
    """
    text = "".join(traceback.format_exception(exc))
    logger.warning("inbox row %s failed: %s", inbox_id, exc)
    with transaction.atomic(durable=True):
        row = InboxMessage.objects.select_for_update().filter(id=inbox_id).first()
        if row is None or row.state != State.PENDING:
            return None
        row.attempts += 1
        row.error = text
        if row.attempts >= settings.INBOX_MAX_ATTEMPTS:
            row.state = State.DEAD
            row.error = f"failed {row.attempts} times; last error:\n{text}"
            row.handled_at = timezone.now()
            delay = None
        else:
            delay = min(
                settings.INBOX_RETRY_BASE_SECONDS * 2 ** (row.attempts - 1),
                settings.INBOX_RETRY_MAX_SECONDS,
            )
            row.not_before = timezone.now() + timedelta(seconds=delay)
        row.save(update_fields=["attempts", "error", "state", "handled_at", "not_before"])
    return delay


def enqueue(inbox_ids: Iterable[int]) -> None:
    """Send one task per id; callers pass the newest pending row of each key."""
    from project.messaging.tasks import handle_inbox_task

    for inbox_id in inbox_ids:
        handle_inbox_task.apply_async(args=[inbox_id])


def newest_per_key(rows: Iterable[tuple[int, str]]) -> list[int]:
    """For (id, ordering_key) pairs, the highest id of each key: draining it handles all."""
    newest: dict[str, int] = {}
    for inbox_id, key in rows:
        if inbox_id > newest.get(key, -1):
            newest[key] = inbox_id
    return sorted(newest.values())


def replay(rows: Iterable[InboxMessage]) -> int:
    """Put dead rows back to pending with a fresh attempt count, and enqueue them."""
    ids = []
    for row in rows:
        if row.state != State.DEAD:
            continue
        InboxMessage.objects.filter(id=row.id, state=State.DEAD).update(
            state=State.PENDING, attempts=0, not_before=None, enqueued_at=timezone.now()
        )
        ids.append((row.id, row.ordering_key))
    transaction.on_commit(lambda: enqueue(newest_per_key(ids)))
    return len(ids)


def sweep_stale(limit: int = 1000) -> int:
    """Re-enqueue keys whose pending rows were enqueued long ago and not handled."""
    cutoff = timezone.now() - timedelta(seconds=settings.INBOX_STALE_SECONDS)
    stale = list(
        InboxMessage.objects.filter(state=State.PENDING, enqueued_at__lt=cutoff)
        .order_by("id")
        .values_list("id", "ordering_key")[:limit]
    )
    if not stale:
        return 0
    InboxMessage.objects.filter(id__in=[i for i, _ in stale]).update(enqueued_at=timezone.now())
    ids = newest_per_key(stale)
    enqueue(ids)
    return len(ids)
