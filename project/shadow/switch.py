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
import uuid
from dataclasses import dataclass, field

from django.apps import apps as django_apps
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from kafka import TopicPartition

from project.db import ids
from project.messaging import registry
from project.messaging.models import InboxMessage
from project.observability import kafka_state
from project.shadow import compare, modes
from project.shadow import rules as rules_module
from project.shadow.models import IdPair, ShadowService, UnknownInput, UpstreamMessage
from project.tenancy import sequences
from project.tenancy.models import Tenant

logger = logging.getLogger(__name__)


@dataclass
class Switched:
    app: str
    group: str
    boundary: dict[str, dict[str, int]]
    settled: dict[str, int]
    uncommitted: list[str]
    advanced: dict[str, int] = field(default_factory=dict)


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
    advanced = advance_ids(app)  # upstream gives out no more ids: it stopped
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
    return Switched(app, consumer.group, boundary, settled, uncommitted, advanced)


def upstream_ids(app: str) -> dict[tuple[str, str], int]:
    """The highest id upstream was seen to give, per tenant (its id) and numbered kind
    of ``app`` (those with a ``sequence`` in the rules): in the learnt pairs, in every
    record of upstream's on a topic the rules name such ids on, and in consumed records
    naming an entity of upstream's the shadow never saw made (older than the shadow)."""
    rules = rules_module.current()
    kinds = rules.sequences(app)
    highest: dict[tuple[str, str], int] = {}

    def seen(tenant: str, kind: str, value: object) -> None:
        try:
            number = int(str(value))
        except ValueError:
            return
        if number > highest.get((tenant, kind), 0):
            highest[(tenant, kind)] = number

    for tenant, kind, theirs in IdPair.objects.filter(service=app, kind__in=kinds).values_list(
        "tenant", "kind", "theirs"
    ):
        seen(tenant, kind, theirs)
    for rule in rules.ids:
        if rule.service != app or rule.kind not in kinds:
            continue
        records = UpstreamMessage.objects.filter(service=app, topic=rule.topic).values_list(
            "tenant", "key", "value"
        )
        for tenant, key, value in records.iterator(chunk_size=2000):
            for path, found in rules_module.flatten(compare._value(value), key).items():
                if rules_module.covers(rule.paths, path):
                    seen(tenant, rule.kind, found)
    unknown = {
        inbox_id: (kind, theirs)
        for inbox_id, kind, theirs in UnknownInput.objects.filter(kind__in=kinds).values_list(
            "inbox_id", "kind", "theirs"
        )
    }
    for row in InboxMessage.objects.filter(id__in=unknown, app=app).only("id", "headers"):
        seen(compare.tenant_of(row.header_list), *unknown[row.id])
    return highest


def advance_ids(app: str) -> dict[str, int]:
    """Move our id sequences of ``app`` past the highest id upstream was seen to give
    (``upstream_ids``), so that no id ours gives from now on names another entity of
    upstream's: records and clients that still hold upstream's id of an entity made
    during the shadow (ours knows it by its own id; ``IdPair`` translates) or before
    it (ours never knew it) find nothing rather than the wrong one. Returns, per
    kind, the highest id moved past."""
    kinds = rules_module.current().sequences(app)
    moved: dict[str, int] = {}
    tables: dict[str, int] = {}
    with transaction.atomic():
        for (tenant_id, kind), past in sorted(upstream_ids(app).items()):
            sequence = kinds[kind]
            moved[kind] = max(moved.get(kind, 0), past)
            if "." in sequence:  # a table's own id, one sequence for every tenant
                tables[sequence] = max(tables.get(sequence, 0), past)
                continue
            try:
                tenants = list(Tenant.objects.filter(uuid=uuid.UUID(tenant_id)))
            except ValueError:  # a record without a tenant: nothing of ours is its
                continue
            if not tenants:
                logger.warning("shadow %s: tenant %s unknown here: %s ids not moved", app,
                               tenant_id, kind)  # fmt: skip
            for tenant in tenants:
                sequences.advance(tenant=tenant, name=sequence, past=past)
        for model, past in tables.items():
            ids.advance_table_ids(django_apps.get_model(model), past)
    return moved


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
