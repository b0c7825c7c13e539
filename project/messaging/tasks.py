"""Celery entry points of the messaging platform: handling, sweeping, purging."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from project.messaging import bus, coordination, inbox
from project.messaging.models import InboxMessage, OutboxMessage

logger = logging.getLogger(__name__)


@shared_task
def handle_inbox_task(keys: list[list]) -> None:
    """Drain each ``[newest inbox id, ordering key]``: handle its pending rows in order.

    The keys' queued flags are released first, so rows stored from now on get a
    task of their own. Keys that are backing off, or had more rows than one batch,
    are sent again.
    """
    coordination.release_keys(ordering_key for _, ordering_key in keys)
    for inbox_id, ordering_key, delay in inbox.process_keys([tuple(k) for k in keys]):
        handle_inbox_task.apply_async(
            args=[[[inbox_id, ordering_key]]], countdown=delay if delay > 0 else None
        )


@shared_task
def prepare_inbox_task(inbox_id: int, ordering_key: str) -> None:
    """Run a row's prepare step (its lookups of other services), then drain its key.

    Routed to the ``lookups`` queue (``CELERY_TASK_ROUTES``), served by a thread-pool
    worker: a lookup waits on the network, not the CPU, and a slow service must not
    take a prefork process (or a database lock) away from the keys that need none.
    """
    try:
        delay = inbox.prepare(inbox_id)
    finally:
        coordination.release_prepare(inbox_id)
    handle_inbox_task.apply_async(
        args=[[[inbox_id, ordering_key]]], countdown=delay if delay else None
    )


@shared_task
def sweep_inbox_task() -> int:
    """Re-enqueue rows that were stored but whose task was lost (killed worker, flushed queue)."""
    return inbox.sweep_stale()


@shared_task
def sweep_outbox_task() -> None:
    """Wake the relay if rows wait; purge sent rows and handled inbox rows past retention."""
    if OutboxMessage.objects.filter(sent_at=None, parked_at=None, shadow="").exists():
        bus.wake_relay()
    now = timezone.now()
    with transaction.atomic():
        _purge(now)


def _purge(now) -> None:
    OutboxMessage.objects.filter(
        sent_at__lt=now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    ).delete()
    # A shadowed service's rows are never sent: held or upstream's, they go by age.
    OutboxMessage.objects.exclude(shadow="").filter(
        created_at__lt=now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    ).delete()
    InboxMessage.objects.filter(
        state=InboxMessage.State.DONE,
        handled_at__lt=now - timedelta(days=settings.INBOX_RETENTION_DAYS),
    ).delete()
