"""Gauges computed when ``/api/metrics`` is scraped, from the database and from Kafka.

Backlogs, the age of the oldest unsent outbox row and consumer lag are facts of
shared state, not of one process: counting them in the hot path would cost every
message a write and still be wrong after a crash. One query each per scrape.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from project.messaging import registry
from project.messaging.models import InboxMessage, OutboxMessage
from project.observability import kafka_state

logger = logging.getLogger(__name__)


_PARKING = any(f.name == "parked_at" for f in OutboxMessage._meta.get_fields())


def _unsent():
    rows = OutboxMessage.objects.filter(sent_at=None, shadow=OutboxMessage.Shadow.NONE)
    if _PARKING:
        rows = rows.filter(parked_at=None)  # refused by the broker for good: not backlog
    return rows


class DatabaseState:
    """Inbox backlog and dead letters per app and topic; outbox backlog, its oldest
    row's age, and parked rows."""

    def collect(self):
        up = GaugeMetricFamily("atlas_state_database_up", "1 if the backlog queries answered.")
        inbox = GaugeMetricFamily(
            "atlas_inbox_backlog",
            "Inbox rows stored and not yet handled (pending), per app and topic.",
            labels=["app", "topic"],
        )
        outbox = GaugeMetricFamily(
            "atlas_outbox_backlog", "Outbox rows committed and not yet published."
        )
        age = GaugeMetricFamily(
            "atlas_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none waits).",
        )
        dead = GaugeMetricFamily(
            "atlas_inbox_dead",
            "Dead letters waiting for an operator (replay or leave), per app and topic.",
            labels=["app", "topic"],
        )
        parked = GaugeMetricFamily(
            "atlas_outbox_parked", "Outbox rows the broker refused for good (parked)."
        )
        try:
            for state, family in (
                (InboxMessage.State.PENDING, inbox),
                (InboxMessage.State.DEAD, dead),
            ):
                rows = (
                    InboxMessage.objects.filter(state=state)
                    .values("app", "topic")
                    .annotate(n=Count("id"))
                    .order_by()
                )
                for row in rows:
                    family.add_metric([row["app"], row["topic"]], row["n"])
            if _PARKING:
                parked.add_metric([], OutboxMessage.objects.exclude(parked_at=None).count())
            unsent = _unsent().aggregate(n=Count("id"), oldest=Min("created_at"))
            outbox.add_metric([], unsent["n"])
            oldest = unsent["oldest"]
            age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
            up.add_metric([], 1)
        except DatabaseError as exc:
            logger.warning("backlog gauges unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        yield from (up, inbox, outbox, age, dead, parked)


class KafkaState:
    """Consumer lag per group, topic and partition (end offset minus committed offset)."""

    def collect(self):
        from project.shadow import switch

        switch.keep_groups_if_readable()  # a switched service's lag is its kept group's
        groups: dict[str, set[str]] = {}
        for consumer in registry.running().values():
            topics = set(consumer.topics)
            if topics:
                groups.setdefault(consumer.group, set()).update(topics)
        snapshot = kafka_state.snapshot({g: sorted(t) for g, t in groups.items()})
        up = GaugeMetricFamily("atlas_state_kafka_up", "1 if Kafka answered the lag queries.")
        up.add_metric([], 0 if snapshot.error else 1)
        yield up
        lag = GaugeMetricFamily(
            "atlas_consumer_lag",
            "Records of a partition not yet consumed by the group (end offset minus "
            "committed offset); absent until the group committed an offset there.",
            labels=["group", "topic", "partition"],
        )
        for group, topics in sorted(groups.items()):
            state = snapshot.groups.get(group)
            if state is None:
                continue
            for topic in sorted(topics):
                for partition in snapshot.partitions.get(topic, []):
                    value = kafka_state.lag(
                        state.committed.get((topic, partition)),
                        snapshot.ends.get((topic, partition)),
                    )
                    if value is not None:
                        lag.add_metric([group, topic, str(partition)], value)
        yield lag
