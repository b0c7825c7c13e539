"""Scheduled routes: the tick's transitions, persisted exactly once."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import transaction

from project.messaging import bus
from project.messaging.errors import Record
from project.tenancy.models import Tenant
from transport.models import (
    Route,
)
from transport.transitions import Plan

logger = logging.getLogger(__name__)


def _emit(tenant: Tenant, records: Iterable[Record]) -> None:
    for record in records:
        bus.emit(tenant=tenant, topic=record.topic, key=record.key, value=record.value)


def route_advance(*, route: Route, expected_marker: dt.datetime | None, plan: Plan) -> bool:
    """Persist a route's planned transitions and emit their records, exactly once.

    One conditional UPDATE (compare-and-set on the marker and the configuration
    version the plan started from): if another tick got there first, or a reload
    replaced the timetable meanwhile, it matches no row and nothing is emitted.
    """
    changes: dict = {"next_boundary_at": plan.next_boundary_at}
    if plan.state != route.state:
        changes.update(state=plan.state, state_changed_at=plan.state_changed_at)
    with transaction.atomic():
        updated = Route.objects.filter(
            pk=route.pk, next_boundary_at=expected_marker, version=route.version
        ).update(**changes)
        if updated != 1:
            return False
        _emit(route.tenant, plan.records)
    return True
