"""The switch: a shadowed service goes live with nothing lost and nothing doubled.

Run after the Go service stopped. For each input partition, the offset upstream's
group committed is the boundary: upstream handled the records before it (and
published what they caused), not those after. The service's row becomes live
with that boundary in one transaction; from then on every record it writes is
published, except what a record before the boundary causes (``modes.outgoing``),
and the rows it held are settled the same way (``modes.resolve_held``). Records
after the boundary that our shadow had not read yet are read by its bridge as
usual and published: its group never stopped.

That group is the service's for good: the switch stores it on the row, and
``keep_groups`` fixes it over the settings in every bridge (and the lag metrics)
once the deployment no longer names the service in ``ATLAS_SHADOW``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from kafka import TopicPartition

from project.messaging import registry
from project.observability import kafka_state
from project.shadow import compare, modes
from project.shadow.models import ShadowService

logger = logging.getLogger(__name__)


@dataclass
class Switched:
    app: str
    group: str
    boundary: dict[str, dict[str, int]]
    settled: dict[str, int]
    uncommitted: list[str]


def committed_offsets(
    group: str, topics: list[str]
) -> tuple[dict[str, dict[str, int]], list[str], int | None]:
    """``group``'s committed offset of every partition of ``topics`` (a partition it
    never committed is at 0: it handled nothing there, and is named) and how many
    members the group has (``None``: the broker did not say)."""
    client = kafka_state.admin()
    try:
        partitions = {
            described["name"]: sorted(p["partition_index"] for p in described["partitions"])
            for described in client.describe_topics(topics)
            if not described.get("error_code")
        }
        offsets = client.list_group_offsets({group: None}).get(group) or {}
        described = client.describe_groups([group]).get(group) or {}
        members = len(described.get("members") or []) if described else None
    finally:
        client.close()
    boundary: dict[str, dict[str, int]] = {}
    uncommitted: list[str] = []
    for topic in topics:
        for partition in partitions.get(topic, []):
            committed = offsets.get(TopicPartition(topic, partition))
            if committed is None or committed.offset is None or committed.offset < 0:
                uncommitted.append(f"{topic}[{partition}]")
                offset = 0
            else:
                offset = committed.offset
            boundary.setdefault(topic, {})[str(partition)] = offset
    return boundary, uncommitted, members


def switch(app: str, upstream_group: str | None = None, *, force: bool = False) -> Switched:
    if app not in settings.ATLAS_SHADOW:
        raise ValueError(f"{app} is not in shadow mode here (ATLAS_SHADOW)")
    consumer = registry.get(app)
    upstream_group = upstream_group or consumer.upstream_group
    if upstream_group == consumer.group:
        raise ValueError(f"{app} consumes under upstream's group {upstream_group!r} itself")
    boundary, uncommitted, members = committed_offsets(upstream_group, consumer.topics)
    if members and not force:
        raise ValueError(
            f"upstream's group {upstream_group!r} still has {members} member(s): stop every "
            "replica of the Go service first (its offsets are the boundary)"
        )
    compare.run_once(apps=[app])  # pair what was read, so sweeps' rows are judged by it
    modes.ensure([app])
    with transaction.atomic():
        service = ShadowService.objects.select_for_update().get(app=app)
        if service.state == ShadowService.State.LIVE:
            raise ValueError(f"{app} went live at {service.switched_at}; nothing to switch")
        service.state = ShadowService.State.LIVE
        service.switched_at = timezone.now()
        service.boundary = boundary
        service.upstream_group = upstream_group
        service.group = consumer.group
        service.save()
    settled = modes.resolve_held(app)
    logger.info("shadow %s is live: boundary %s, held rows %s", app, boundary, settled)
    return Switched(app, consumer.group, boundary, settled, uncommitted)


def keep_groups() -> dict[str, tuple[str, str]]:
    """Fix, for this process, the group of every service switched here: the group it
    consumed with in shadow mode, stored on its row by the switch.

    Once ``ATLAS_SHADOW`` no longer names the service its settings would give it
    upstream's group (``KAFKA_CONSUMER_GROUP`` of the Go service's environment, else
    upstream's name), whose offsets stopped at the boundary: its bridge would read
    every record after the boundary again, under a group the inbox has no rows of,
    and handle each twice. So the stored group wins over any setting. Returns, for
    each service whose settings name another group, (kept, configured)."""
    kept = dict(
        ShadowService.objects.filter(state=ShadowService.State.LIVE)
        .exclude(group="")
        .values_list("app", "group")
    )
    registry.pin_groups(kept)
    consumers = registry.consumers()
    return {
        app: (group, consumers[app].configured_group)
        for app, group in sorted(kept.items())
        if app in consumers and consumers[app].configured_group != group
    }


def keep_groups_if_readable() -> None:
    """``keep_groups`` where a database error must not stop the caller (the metrics:
    the groups kept by an earlier read, or none, stand)."""
    try:
        keep_groups()
    except DatabaseError as exc:
        logger.warning("switched services' groups unread: %s", exc)
