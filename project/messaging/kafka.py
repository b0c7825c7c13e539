"""kafka-python clients configured from settings, and topic creation."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import errors as kafka_errors
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from project.messaging import kafka_records  # noqa: F401 - header names read leniently

logger = logging.getLogger(__name__)


# What a client raises when no broker answers (at construction: a bootstrap timeout).
UNREACHABLE = (
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
)


class UnreachableNotice:
    """Says "Kafka cannot be reached" once, then at most every ``repeat`` seconds,
    instead of a traceback on every retry."""

    def __init__(self, who: str, repeat: float = 60.0) -> None:
        self.who = who
        self.repeat = repeat
        self.said = -repeat

    def report(self, exc: BaseException) -> None:
        if time.monotonic() - self.said > self.repeat:
            logger.error(
                "%s: Kafka cannot be reached at %s (%s); retrying every 2 s",
                self.who,
                ",".join(settings.BOOTSTRAP_SERVERS),
                exc,
            )
            self.said = time.monotonic()


# A consumer's own requests (metadata, offsets, commits) give up after this long;
# kafka-python's default, 305 s, would leave a bridge thread blocked for minutes on
# a request that was lost in a rebalance or a broker restart.
REQUEST_TIMEOUT_MS = 15_000


def consumer(group: str) -> KafkaConsumer:
    """A bridge consumer of ``group``; a partition without a committed offset starts
    at its beginning (the bridge moves those of ``latest`` topics to their end)."""
    return KafkaConsumer(
        bootstrap_servers=settings.BOOTSTRAP_SERVERS,
        group_id=group,
        client_id=f"atlas-bridge {group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.KAFKA_SESSION_TIMEOUT_MS,
        request_timeout_ms=max(REQUEST_TIMEOUT_MS, settings.KAFKA_SESSION_TIMEOUT_MS + 5000),
        heartbeat_interval_ms=settings.KAFKA_HEARTBEAT_INTERVAL_MS,
        max_poll_records=500,
        fetch_max_wait_ms=max(settings.KAFKA_FETCH_MAX_WAIT_MS, settings.KAFKA_FETCH_IDLE_WAIT_MS),
        fetch_min_bytes=settings.KAFKA_FETCH_MIN_BYTES,  # FetchWait: 1 once idle
        metrics_enabled=False,  # kafka-python's own sensors: a cost on every fetch, unread
        reconnect_backoff_max_ms=2000,
        bootstrap_timeout_ms=5000,
        # Topics are created by ensure_topics with the configured partition count,
        # never implicitly by a metadata request with the broker's default.
        allow_auto_create_topics=False,
    )


def producer() -> KafkaProducer:
    """Acks from all in-sync replicas, one request in flight: retries cannot reorder.

    kafka-python retries a send until ``delivery_timeout_ms`` (2 min), so a broker
    outage shorter than that only delays publication. Idempotence is off: a broker
    that lost its state (restarted embedded broker) answers an idempotent producer's
    old producer id with UnknownProducerId forever; delivery is at least once anyway
    and consumers dedupe.
    """
    return KafkaProducer(
        bootstrap_servers=settings.BOOTSTRAP_SERVERS,
        client_id="atlas-outbox-relay",
        acks="all",
        enable_idempotence=False,
        max_in_flight_requests_per_connection=1,
        linger_ms=2,
        request_timeout_ms=10000,
        reconnect_backoff_max_ms=2000,
        allow_auto_create_topics=False,
        max_block_ms=10000,
        bootstrap_timeout_ms=5000,
        metrics_enabled=False,
    )


class FetchWait:
    """The consumer's fetch wait: short while records flow, longer once they stop.

    On the embedded broker an empty fetch is answered only when its wait is over,
    so the wait is both the latency a consumer hop adds and what an idle consumer
    costs (a bridge polls one consumer per app). A consumer that had records in
    the last ``IDLE_AFTER_SECONDS`` fetches with ``KAFKA_FETCH_MAX_WAIT_MS``; an idle
    one with ``KAFKA_FETCH_IDLE_WAIT_MS``, so the first record after a quiet spell
    waits at most that long and the ones after it the short wait.

    Apache Kafka answers a fetch as soon as ``fetch_min_bytes`` are there. While
    records flow a fetch asks for ``KAFKA_FETCH_MIN_BYTES`` (a few records), so
    the broker gathers them for up to the short wait: fewer, larger fetches, batches
    and transactions, which on a busy machine cost less CPU and a shorter tail than
    a fetch per record. An idle consumer asks for one byte, so the first record
    after a quiet spell is answered at once.
    """

    IDLE_AFTER_SECONDS = 2.0

    def __init__(self, client: KafkaConsumer) -> None:
        # kafka-python reads this entry for every fetch request it builds.
        self._config = getattr(getattr(client, "_fetcher", None), "config", None)
        self.busy_ms = settings.KAFKA_FETCH_MAX_WAIT_MS
        self.idle_ms = max(self.busy_ms, settings.KAFKA_FETCH_IDLE_WAIT_MS)
        self.busy_bytes = settings.KAFKA_FETCH_MIN_BYTES
        self.last_records = time.monotonic()
        self._set(self.busy_ms, self.busy_bytes)

    def polled(self, records: bool) -> None:
        now = time.monotonic()
        if records:
            self.last_records = now
        if now - self.last_records < self.IDLE_AFTER_SECONDS:
            self._set(self.busy_ms, self.busy_bytes)
        else:
            self._set(self.idle_ms, 1)

    @property
    def current_ms(self) -> int | None:
        return None if self._config is None else self._config.get("fetch_max_wait_ms")

    @property
    def current_min_bytes(self) -> int | None:
        return None if self._config is None else self._config.get("fetch_min_bytes")

    def _set(self, wait_ms: int, min_bytes: int) -> None:
        if self._config is not None:
            self._config["fetch_max_wait_ms"] = wait_ms
            self._config["fetch_min_bytes"] = min_bytes


def ensure_topics(names: set[str] | list[str]) -> list[str]:
    """Create missing topics, as upstream's pre-create step does; return those that
    still do not exist.

    A topic that cannot be created (the cluster refuses: no permission, too few
    brokers for the replication factor, an invalid name) is said in one line naming
    the topic and the setting it comes from; the callers go on with the others and
    try again later, so an operator who creates it need not restart anything.
    """
    names = sorted(set(names))
    if not names:
        return []
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.BOOTSTRAP_SERVERS,
            client_id="atlas-topics",
            request_timeout_ms=5000,
            # Fail fast when the broker is away; the callers retry and say so.
            bootstrap_timeout_ms=5000,
        )
    except KafkaError as exc:
        # The caller says it clearly, once (bridge, relay); no warning every retry.
        logger.debug("cannot reach Kafka to create topics: %s", exc)
        return []
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if not missing:
            return []
        partitions = settings.KAFKA_TOPIC_PARTITIONS
        replication = settings.KAFKA_TOPIC_REPLICATION_FACTOR
        topics = [NewTopic(n, partitions, replication) for n in missing]
        refused = _refusals(admin.create_topics(topics, raise_errors=False))
        created = [n for n in missing if n not in refused]
        if created:
            logger.info(
                "created topics %s with %d partition(s), replication factor %d",
                created, partitions, replication,
            )  # fmt: skip
        for name, reason in refused.items():
            _missing_topics.report(name, reason)
        return sorted(refused)
    except KafkaError as exc:
        logger.warning("could not create topics %s: %s", names, exc)
        return []
    finally:
        admin.close()


# CreateTopics error codes that leave the topic in place.
_EXISTS = {kafka_errors.TopicAlreadyExistsError.errno}


def _refusals(response: object) -> dict[str, str]:
    """Topic name -> reason, for each topic the broker did not create."""
    if isinstance(response, dict):
        entries = [
            (t["name"], t["error_code"], t.get("error_message")) for t in response.get("topics", [])
        ]
    else:  # a response object: topic_errors of (name, code[, message])
        entries = [(e[0], e[1], e[2] if len(e) > 2 else None) for e in response.topic_errors]
    refused = {}
    for name, code, message in entries:
        if code and code not in _EXISTS:
            error = kafka_errors.for_code(code).__name__
            refused[name] = f"{error}: {message}" if message else error
    return refused


class MissingTopicNotice:
    """One line per missing topic, again at most every ``repeat`` seconds."""

    def __init__(self, repeat: float = 60.0) -> None:
        self.repeat = repeat
        self.said: dict[str, float] = {}

    def report(self, topic: str, reason: str) -> None:
        now = time.monotonic()
        if now - self.said.get(topic, -self.repeat) < self.repeat:
            return
        self.said[topic] = now
        from project.messaging import registry

        setting = registry.setting_of(topic)
        if setting is None:
            named, fix = "", "create it on the cluster"
        else:
            how = f"set by {setting}" if setting != topic else f"the default of {setting}"
            named = f" ({how})"
            fix = f"create it on the cluster or point {setting} at an existing topic"
        logger.error(
            "topic %r%s does not exist and cannot be created (%s); %s; records for it "
            "wait until then",
            topic, named, reason, fix,
        )  # fmt: skip


_missing_topics = MissingTopicNotice()
