"""Scheduled routes: the tick's transitions, persisted exactly once."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from project.db import statements
from project.messaging import bus
from transport.models import (
    Route,
)
from transport.transitions import Plan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Advance:
    """A route's plan and what the plan started from: the marker and the route's
    configuration version as the tick read them."""

    route: Route
    expected_marker: dt.datetime | None
    plan: Plan


def routes_advance(*, advances: Sequence[Advance]) -> list[Advance]:
    """Persist many routes' planned transitions and emit their records, each exactly
    once, in one transaction of a few statements whatever the number of routes.

    The routes' rows are locked (in id order, so two ticks cannot deadlock) and
    read back: an advance whose route no longer has the marker and configuration
    version its plan started from (another tick got there first, or a reload
    replaced the timetable meanwhile) is left out, and nothing of it is written.
    The others' markers and states are written by one UPDATE
    (``statements.update_rows``), their records by one INSERT per batch of outbox rows
    (``bus.emit_many``), in the order given: within a route, the plan's order.
    SQLite has no row locks; its transactions begin IMMEDIATE, so the read and
    the writes cannot interleave with another tick's either.

    Returns the advances applied. Any error (a record over the producer's limit)
    rolls back all of them: the caller applies them one at a time instead.
    """
    if not advances:
        return []
    with transaction.atomic():
        current = {
            pk: (marker, version, state, changed_at)
            for pk, marker, version, state, changed_at in Route.objects.select_for_update()
            .filter(pk__in=[advance.route.pk for advance in advances])
            .order_by("pk")
            .values_list("pk", "next_boundary_at", "version", "state", "state_changed_at")
        }
        applied: list[Advance] = []
        rows: list[tuple] = []
        for advance in advances:
            found = current.get(advance.route.pk)
            if found is None or found[:2] != (advance.expected_marker, advance.route.version):
                continue
            _, _, state, changed_at = found
            plan = advance.plan
            if plan.state != state:
                state, changed_at = plan.state, plan.state_changed_at
            rows.append((advance.route.pk, plan.next_boundary_at, state, changed_at))
            applied.append(advance)
        statements.update_rows(Route, ("next_boundary_at", "state", "state_changed_at"), rows)
        bus.emit_many(
            (advance.route.tenant, record) for advance in applied for record in advance.plan.records
        )
    return applied


def route_advance(*, route: Route, expected_marker: dt.datetime | None, plan: Plan) -> bool:
    """``routes_advance`` for one route: whether it was applied."""
    return bool(routes_advance(advances=[Advance(route, expected_marker, plan)]))
