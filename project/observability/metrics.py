"""Prometheus instruments of the pipeline, and the text ``/api/metrics`` serves.

The bridge, the workers (a prefork pool: several processes), the relay and the
web server are separate processes. With ``PROMETHEUS_MULTIPROC_DIR`` set (runstack
sets it to ``$ATLAS_DATA_DIR/metrics``), prometheus-client keeps every process's
values in a memory-mapped file in that directory, and any web process of the
machine serves the sum (``MultiProcessCollector``). Without it each process keeps
its own values in memory and ``/api/metrics`` shows only the web process's own
(the scrape-time gauges of ``state`` are complete either way).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds; handlers take milliseconds, a lookup-bound one or a slow database more.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CONSUMED = Counter(
    "atlas_records_consumed",
    "Kafka records the bridge polled and stored (or skipped), per app and topic.",
    ["app", "topic"],
)
SKIPPED = Counter(
    "atlas_records_skipped",
    "Consumed records of event types the app does not act on (no inbox row).",
    ["app", "topic"],
)
DEAD = Counter(
    "atlas_records_dead",
    "Records that became dead letters: undecodable at the bridge (stage=bridge) or "
    "failed for good in a handler (stage=worker).",
    ["app", "topic", "stage"],
)
HANDLED = Counter(
    "atlas_records_handled",
    "Inbox rows whose handler ran and committed (a domain refusal counts as handled).",
    ["app", "topic"],
)
FAILURES = Counter(
    "atlas_handler_failures",
    "Handler attempts that raised (each retried attempt counts; see atlas_records_dead).",
    ["app", "topic"],
)
HANDLER_SECONDS = Histogram(
    "atlas_handler_seconds",
    "Time a handler (its domain service) took, per app and topic.",
    ["app", "topic"],
    buckets=_LATENCY_BUCKETS,
)
LOOKUP_SECONDS = Histogram(
    "atlas_lookup_seconds",
    "Time a handler's prepare step (its lookups of other services: characters, maps, "
    "data, tenants) took, per app, topic and outcome (ok, failed); the lookups worker's.",
    ["app", "topic", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
PUBLISHED = Counter(
    "atlas_relay_published",
    "Outbox rows the relay published and the broker acknowledged, per topic.",
    ["topic"],
)
PUBLISH_SECONDS = Histogram(
    "atlas_relay_publish_seconds",
    "Time from the relay sending a batch to the broker acknowledging it.",
    buckets=_LATENCY_BUCKETS,
)
SHADOW_RESULTS = Counter(
    "atlas_shadow_results",
    "Shadow mode: outgoing records compared with the Go service's, per service, topic, "
    "type and class (matched, different, expected, missing_upstream, missing_here, "
    "no_baseline); counted by the comparer (manage.py shadow_compare).",
    ["service", "topic", "type", "class"],
)


def multiprocess() -> bool:
    """Whether this process writes its values to the shared directory.

    prometheus-client decides once, when it is first imported, from the
    environment; asking it (not the environment) keeps the answer true.
    """
    return _values.ValueClass is not _values.MutexValue


class MachineCollector:
    """The values every process of the machine wrote to the multiprocess directory,
    summed (prometheus-client's ``MultiProcessCollector``), Flower's left out.

    Flower's instruments (``flower_*``: workers online, tasks running, per worker)
    describe the workers as Flower sees them and are served by Flower at its own
    ``/metrics``. Written to a shared directory they came out here once per Flower
    process, labelled with Flower's pid as if a process of ours had counted them.
    """

    FOREIGN = ("flower_",)

    def __init__(self, path: str | None = None) -> None:
        self.processes = MultiProcessCollector(None, path=path)

    def collect(self):
        for family in self.processes.collect():
            if not family.name.startswith(self.FOREIGN):
                yield family


class _ThisProcess:
    """The default registry's metrics, as a collector of another registry."""

    def collect(self):
        yield from REGISTRY.collect()


def exposition(*extra_collectors) -> bytes:
    """The Prometheus text of every process's instruments plus ``extra_collectors``."""
    registry = CollectorRegistry()
    if multiprocess():
        registry.register(MachineCollector())
    else:
        registry.register(_ThisProcess())
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry)
