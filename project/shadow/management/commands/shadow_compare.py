"""``manage.py shadow_compare``: compare the shadowed services with the Go services.

Reads what the Go services publish on the shadowed services' output topics and
pairs it with the records our shadowed services held back (docs/shadow.md). One
comparer per deployment; ``runstack`` starts it when ``ATLAS_SHADOW`` is set.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from project.messaging import kafka
from project.messaging.signals import stop_event
from project.shadow import compare, ingest, modes

logger = logging.getLogger("project.shadow")


class Command(BaseCommand):
    help = "Pair the shadowed services' held records with what the Go services published."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between comparison passes"
        )

    def handle(self, *args: object, interval: float, **options: object) -> None:
        if not settings.ATLAS_SHADOW:
            raise CommandError("ATLAS_SHADOW names no service: there is nothing to compare")
        stop = stop_event()
        modes.ensure(list(settings.ATLAS_SHADOW))
        topics = ingest.output_topics(settings.ATLAS_SHADOW)
        kafka.ensure_topics(set(topics))
        consumer = ingest.consumer()
        consumer.subscribe(sorted(topics))
        logger.info(
            "shadow comparer for %s subscribed to %s as %r",
            ", ".join(settings.ATLAS_SHADOW),
            ", ".join(sorted(topics)),
            settings.SHADOW_COMPARER_GROUP,
        )
        last_pass = 0.0
        try:
            while not stop.is_set():
                close_old_connections()
                polled = consumer.poll(timeout_ms=200, max_records=1000)
                records = [r for batch in polled.values() for r in batch]
                if records:
                    ingest.store(records, topics, ingest.since())
                    consumer.commit()
                if time.monotonic() - last_pass >= interval:
                    last_pass = time.monotonic()
                    counts = compare.run_once()
                    if counts:
                        logger.info("shadow comparison: %s", counts)
                    modes.resolve_live()
        finally:
            consumer.close()
