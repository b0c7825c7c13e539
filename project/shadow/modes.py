"""Which mode a shadowed service is in, as every process sees it: the database says.

A service named in ``ATLAS_SHADOW`` is in shadow mode until ``shadow_switch`` writes
its ``ShadowService`` row as live. ``bus.emit`` asks ``outgoing`` for every record
such a service writes, inside the writing transaction: on PostgreSQL the read takes
a share lock on the service's row, so the switch (which updates the row) waits for
every transaction that saw shadow mode to commit, and every transaction after it
sees live mode; SQLite runs one writer at a time anyway. So no record is written
under the old mode once the switch has committed (docs/shadow.md, "The switch").
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from project.messaging import registry
from project.messaging.models import InboxMessage, OutboxMessage
from project.shadow.models import Result, ShadowService

logger = logging.getLogger(__name__)

Shadow = OutboxMessage.Shadow


def shadowed_app(app: str, topic: str) -> str | None:
    """The shadowed service that wrote a record: its handler's app, else (sweeps, REST,
    the admin) the shadowed service that publishes to ``topic``."""
    if app:
        return app if app in settings.ATLAS_SHADOW else None
    for candidate in registry.producers_of(topic):
        if candidate in settings.ATLAS_SHADOW:
            return candidate
    return None


def outgoing(app: str, topic: str, inbox_id: int | None) -> str:
    """How a record written now is kept: ``held`` (shadow mode: compared, not
    published), ``upstream`` (live, but caused by a record before the boundary:
    upstream published its counterpart) or ``""`` (published by the relay)."""
    service_app = shadowed_app(app, topic)
    if service_app is None:
        return Shadow.NONE
    service = _read(service_app)
    if service is None or service.state == ShadowService.State.SHADOW:
        return Shadow.HELD
    if inbox_id is None:
        return Shadow.NONE
    position = (
        InboxMessage.objects.filter(id=inbox_id).values_list("topic", "partition", "offset").first()
    )
    if position is not None and service.before_boundary(*position):
        return Shadow.UPSTREAM
    return Shadow.NONE


def _read(app: str) -> ShadowService | None:
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:  # held until the writer's commit (see above)
            cursor.execute(
                f"SELECT 1 FROM {ShadowService._meta.db_table} WHERE app = %s FOR SHARE", [app]
            )
    return ShadowService.objects.filter(app=app).first()


def is_shadow(app: str) -> bool:
    """Whether ``app`` is in shadow mode now (a plain read, for REST and the relay's
    callers; ``outgoing`` is the one that must be exact)."""
    if app not in settings.ATLAS_SHADOW:
        return False
    state = ShadowService.objects.filter(app=app).values_list("state", flat=True).first()
    return state != ShadowService.State.LIVE


_cached: dict[str, tuple[float, bool]] = {}


def is_shadow_cached(app: str, seconds: float = 1.0) -> bool:
    """``is_shadow``, read at most once a ``seconds`` per process (REST refusals)."""
    if app not in settings.ATLAS_SHADOW:
        return False
    now = time.monotonic()
    hit = _cached.get(app)
    if hit is None or now - hit[0] > seconds:
        hit = (now, is_shadow(app))
        _cached[app] = hit
    return hit[1]


def ensure(apps: list[str]) -> None:
    """A row for each shadowed service (state shadow) where none exists yet."""
    for app in apps:
        ShadowService.objects.get_or_create(app=app)


def resolve_held(app: str) -> dict[str, int]:
    """Settle the held rows of a service that went live: a row caused by a record
    before the boundary was upstream's to publish (``upstream``); one caused after
    it is published by the relay. A row with no consumed record behind it (a sweep,
    the tick) was upstream's if the comparer paired it with one of upstream's,
    else it is published. Returns the counts."""
    service = ShadowService.objects.filter(app=app, state=ShadowService.State.LIVE).first()
    counts = {"upstream": 0, "published": 0}
    if service is None:
        return counts
    with transaction.atomic():
        held = list(
            OutboxMessage.objects.select_for_update()
            .filter(app=app, shadow=Shadow.HELD)
            .order_by("id")
            .values_list("id", "cause_id")
        )
        if not held:
            return counts
        causes = {
            row["id"]: (row["topic"], row["partition"], row["offset"])
            for row in InboxMessage.objects.filter(
                id__in={cause for _, cause in held if cause is not None}
            ).values("id", "topic", "partition", "offset")
        }
        paired = set(
            Result.objects.filter(
                ours_id__in=[i for i, _ in held], theirs__isnull=False
            ).values_list("ours_id", flat=True)
        )
        upstream, publish = [], []
        for row_id, cause in held:
            position = causes.get(cause) if cause is not None else None
            if position is not None:
                before = service.before_boundary(*position)
            else:
                before = row_id in paired
            (upstream if before else publish).append(row_id)
        OutboxMessage.objects.filter(id__in=upstream).update(shadow=Shadow.UPSTREAM)
        OutboxMessage.objects.filter(id__in=publish).update(shadow=Shadow.NONE)
        counts = {"upstream": len(upstream), "published": len(publish)}
    if counts["published"]:
        from project.messaging import bus

        bus.wake_relay()
    logger.info("shadow %s: held rows settled at %s: %s", app, timezone.now(), counts)
    return counts


def resolve_live() -> None:
    """Settle held rows of every shadowed service that is live (beat's outbox sweep):
    a transaction that began before the switch may have committed one after it."""
    for app in ShadowService.objects.filter(
        app__in=settings.ATLAS_SHADOW, state=ShadowService.State.LIVE
    ).values_list("app", flat=True):
        if OutboxMessage.objects.filter(app=app, shadow=Shadow.HELD).exists():
            resolve_held(app)
