"""Reading what the Go service publishes: the shadowed services' output topics.

The comparer consumes them under a group of its own (``SHADOW_COMPARER_GROUP``),
from their beginning on its first start, and keeps only records written after the
shadow started (less the window): older ones have nothing of ours to meet.
Offsets are committed after the rows are stored, so a restart reads again at most
what the unique (topic, partition, offset) then ignores.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from kafka import KafkaConsumer

from project.messaging import kafka, registry, wire
from project.messaging.models import store_headers
from project.shadow import compare
from project.shadow.models import ShadowService, UpstreamMessage

logger = logging.getLogger(__name__)


def output_topics(apps: Iterable[str]) -> dict[str, str]:
    """Each output topic of the services ``apps``, with the service that publishes it."""
    topics: dict[str, str] = {}
    for app in apps:
        for token in registry.get(app).produces:
            topics.setdefault(wire.topic_name(token), app)
    return topics


def consumer() -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.BOOTSTRAP_SERVERS,
        group_id=settings.SHADOW_COMPARER_GROUP,
        client_id="atlas-shadow-comparer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.KAFKA_SESSION_TIMEOUT_MS,
        request_timeout_ms=max(kafka.REQUEST_TIMEOUT_MS, settings.KAFKA_SESSION_TIMEOUT_MS + 5000),
        heartbeat_interval_ms=settings.KAFKA_HEARTBEAT_INTERVAL_MS,
        metrics_enabled=False,
        allow_auto_create_topics=False,
    )


def since() -> dt.datetime | None:
    """Records older than this are not kept: the earliest start of a shadow, less the window."""
    started = (
        ShadowService.objects.filter(app__in=settings.ATLAS_SHADOW)
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    if started is None:
        return None
    return started - dt.timedelta(seconds=settings.SHADOW_WINDOW_SECONDS)


def store(records: list, topics: dict[str, str], oldest: dt.datetime | None) -> int:
    """Keep upstream's records (those of a known topic, written after ``oldest``)."""
    rows = []
    for record in records:
        service = topics.get(record.topic)
        if service is None:
            continue
        at = dt.datetime.fromtimestamp(record.timestamp / 1000, tz=dt.UTC)
        if oldest is not None and at < oldest:
            continue
        value = compare._value(record.value)
        headers = [(name, value or b"") for name, value in record.headers or []]
        rows.append(
            UpstreamMessage(
                service=service,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                timestamp=at,
                key=record.key,
                value=record.value,
                headers=store_headers(headers),
                message_type=str(value.get("type", ""))[:64] if isinstance(value, dict) else "",
                tenant=compare.tenant_of(headers),
                transaction_id=compare.transaction_id(value),
            )
        )
    with transaction.atomic():
        UpstreamMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
