"""The tick's lease: one tick at a time across processes."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q

from transport.models import (
    TickLease,
)

logger = logging.getLogger(__name__)

TICK_LEASE = "tick"


def tick_lease_acquire(*, holder: str, now: dt.datetime, seconds: float) -> bool:
    """Take the tick lease if it is free or expired; exactly one tick runs at a time."""
    with transaction.atomic():
        TickLease.objects.get_or_create(name=TICK_LEASE)
        taken = (
            TickLease.objects.filter(name=TICK_LEASE)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder))
            .update(holder=holder, expires_at=now + dt.timedelta(seconds=seconds))
        )
    return taken == 1


def tick_lease_release(*, holder: str) -> None:
    with transaction.atomic():
        TickLease.objects.filter(name=TICK_LEASE, holder=holder).update(expires_at=None)


def tenants_refreshed(*, now: dt.datetime) -> None:
    with transaction.atomic():
        TickLease.objects.filter(name=TICK_LEASE).update(tenants_refreshed_at=now)
