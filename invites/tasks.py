"""Periodic work of invites: the expiry sweep (beat entry ``invites-expire``)."""

from __future__ import annotations

from celery import shared_task

from invites import services


@shared_task
def expire_invites_task() -> int:
    """Reject one batch of expired invites; re-queue while batches come back full.

    Beat runs this every ``INVITE_SWEEP_SECONDS``; a backlog larger than one batch
    (``services.EXPIRY_BATCH_SIZE``) is worked off by the re-queued tasks, each in
    its own transaction. Overlapping runs are safe (see ``invites_expire``).
    """
    result = services.invites_expire()
    if result.more:
        expire_invites_task.apply_async()
    return result.rejected
