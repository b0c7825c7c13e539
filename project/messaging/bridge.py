"""The Kafka → inbox bridge: one consumer-group loop per app.

For each polled batch: decode every record, store the inbox rows (handled and
dead alike) in one transaction, enqueue tasks, and commit the Kafka offsets only
after the rows are committed (at most once a second while records flow, see
``OffsetCommits``). A crash before the offset commit redelivers records whose
rows already exist; the unique constraint makes that a no-op and the rows are
enqueued again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from project.db import statements
from project.messaging import epochs, inbox, kafka, kafka_records, liveness, registry
from project.messaging.decoding import decode
from project.messaging.models import InboxMessage, store_headers
from project.observability import observe
from project.tenancy.rows import tenant_row

logger = logging.getLogger(__name__)

# After SIGTERM the threads have this long to store and commit their batch; one
# blocked on an unreachable broker is abandoned (uncommitted records come again).
STOP_GRACE_SECONDS = 5
# A topic that does not exist and cannot be created is left out of the subscription
# (kafka-python would otherwise never complete the group's join, and no topic of
# the app would be consumed); it is looked for again this often.
MISSING_TOPICS_RECHECK_SECONDS = 30


class AppBridge(threading.Thread):
    def __init__(self, consumer: registry.Consumer, stop: threading.Event) -> None:
        super().__init__(name=f"bridge-{consumer.app}", daemon=True)
        self.spec = consumer
        self.stop_event = stop
        self.stored = 0
        self.assignment_watch = liveness.AssignmentWatch.for_consumer(self.name, consumer)

    def run(self) -> None:
        unreachable = kafka.UnreachableNotice(self.name)
        while not self.stop_event.is_set():
            try:
                self._consume()
            except kafka.UNREACHABLE as exc:
                unreachable.report(exc)
                self.stop_event.wait(2)
            except Exception:
                logger.exception("%s: consumer loop failed; restarting in 2 s", self.name)
                self.stop_event.wait(2)

    def _consume(self) -> None:
        topics = self.spec.topics
        missing = set(kafka.ensure_topics(set(topics) | registry.produced_topics()))
        subscribed = [t for t in topics if t not in missing]
        if not subscribed:  # each said in a line of its own; look again later
            self.stop_event.wait(MISSING_TOPICS_RECHECK_SECONDS)
            return
        client = kafka.consumer(self.spec.group)
        _subscribe(client, subscribed)
        logger.info("%s: group %r subscribed to %s", self.name, self.spec.group, subscribed)
        topics_checked = missing_checked = time.monotonic()
        assigned: set = set()
        topic_ids: dict = {}
        positions = epochs.Positions()
        offsets = OffsetCommits(client, self.name)
        fetch_wait = kafka.FetchWait(client)
        linger = Linger()
        try:
            while not self.stop_event.is_set():
                batch = linger.gather(client, client.poll(timeout_ms=500))
                if self.assignment_watch.rejoin_needed(client):
                    return  # nobody consumes: a new consumer joins afresh (see liveness)
                sent_to_end = self._start_at_end(client, assigned)
                assigned = self._check_new_partitions(client, assigned, positions)
                recreated = self._check_topic_ids(client, topic_ids)
                positions.forget((tp.topic, tp.partition) for tp in recreated)
                polled_ns = observe.clock()
                observe.polled(self.spec.group, client)
                records = [
                    record
                    for tp, part in batch.items()
                    if tp not in recreated  # read again from the start of the new log
                    and tp not in sent_to_end  # read from the start, meant to begin at the end
                    for record in part
                ]
                fetch_wait.polled(bool(records))
                if len(subscribed) < len(topics) and (
                    time.monotonic() - missing_checked > MISSING_TOPICS_RECHECK_SECONDS
                ):
                    subscribed = self._subscribe_to_new(client, topics, subscribed)
                    missing_checked = time.monotonic()
                if not records:
                    offsets.commit(idle=True)
                    if not client.assignment() and time.monotonic() - topics_checked > 5:
                        # A broker that lost its topics (restarted, memory storage)
                        # leaves us with nothing assigned: create them again.
                        kafka.ensure_topics(set(topics) | registry.produced_topics())
                        topics_checked = time.monotonic()
                    continue
                new_ids = self._store_until_done(records, positions)
                if new_ids is None:
                    return  # stopping; offsets stay uncommitted, records come again
                observe.consumed(self.spec, records, polled_ns)
                try:
                    inbox.enqueue(new_ids)
                except Exception as exc:  # Redis away: the rows are stored, the sweeper
                    # re-enqueues them once it is back; the consumer goes on.
                    logger.warning(
                        "%s: cannot enqueue tasks (%s); the sweeper will", self.name, exc
                    )
                offsets.stored()
                offsets.commit(idle=False)
            offsets.commit(idle=True)
        finally:
            liveness.close(client)  # no LeaveGroup half-way through a join

    def _subscribe_to_new(self, client, topics: list[str], subscribed: list[str]) -> list[str]:
        """Subscribe to those of the missing topics that exist now (created by the
        operator, or creatable after all); the rest stay missing."""
        missing = set(kafka.ensure_topics(set(topics) - set(subscribed)))
        now = [t for t in topics if t not in missing]
        if now != subscribed:
            _subscribe(client, now)
            logger.info("%s: group %r subscribed to %s", self.name, self.spec.group, now)
        return now

    def _start_at_end(self, client, assigned: set) -> set:
        """Newly assigned partitions of a topic whose subscription starts at the latest
        offset (``registry.Subscription.start``) that the group never committed an
        offset for: moved to the end of their log.

        The consumer's own reset policy is ``earliest``, for every topic, so that a
        partition whose log was lost or recreated is read from its start; this makes
        the other policy hold per topic, as upstream's one consumer per topic does.
        The records this poll may have read from such a partition's start are
        dropped by the caller.
        """
        latest = {topic for topic, start in self.spec.starts.items() if start == "latest"}
        new = [tp for tp in client.assignment() if tp not in assigned and tp.topic in latest]
        moved = set()
        for tp in new:
            # A broker error propagates: the loop starts a new consumer, which
            # asks again, rather than guess and replay (or skip) the partition.
            if client.committed(tp, timeout_ms=kafka.REQUEST_TIMEOUT_MS) is None:
                client.seek_to_end(tp)
                moved.add(tp)
        if moved:
            # The end becomes the group's committed offset at once: the group has
            # started there, and a restart before any record came (or before the
            # next commit) resumes from it, not from a later end.
            client.commit(
                {
                    tp: OffsetAndMetadata(
                        client.position(tp, timeout_ms=kafka.REQUEST_TIMEOUT_MS), "", -1
                    )
                    for tp in sorted(moved)
                }
            )
            logger.info(
                "%s: %s start at the latest offset (no committed offset)",
                self.name,
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(moved)),
            )
        return moved

    def _check_new_partitions(self, client, assigned: set, positions: epochs.Positions) -> set:
        """Partitions assigned since the last poll: is their log the one we stored?

        Their records of this poll are not stored yet, so a log found to be new gets
        its epoch before any of them (see ``epochs``).
        """
        now = set(client.assignment())
        new = now - assigned
        if new:
            positions.forget((tp.topic, tp.partition) for tp in new)
            try:
                ends = client.end_offsets(list(new), timeout_ms=kafka.REQUEST_TIMEOUT_MS)
            except KafkaError as exc:
                logger.warning("%s: cannot read end offsets: %s", self.name, exc)
                return assigned  # try again on the next poll
            with transaction.atomic(durable=True):
                for tp, end in ends.items():
                    epochs.check_log_end(self.spec.group, tp.topic, tp.partition, end)
        return now

    def _check_topic_ids(self, client, known: dict) -> set:
        """Partitions whose topic was recreated (another broker topic id) since last seen.

        Their epoch moves on and the consumer is sent to the start of the new log:
        its position in the old one means nothing there (see ``epochs``).
        """
        cluster = getattr(getattr(client, "_client", None), "cluster", None)
        if cluster is None or not hasattr(cluster, "topic_id"):
            return set()
        recreated = set()
        for tp in client.assignment():
            topic_id = cluster.topic_id(tp.topic)
            if topic_id is None or known.get(tp) == str(topic_id):
                continue
            with transaction.atomic(durable=True):
                changed = epochs.topic_id_changed(
                    self.spec.group, tp.topic, tp.partition, str(topic_id)
                )
            known[tp] = str(topic_id)
            if changed:
                recreated.add(tp)
                client.seek_to_beginning(tp)
        return recreated

    def _store_until_done(
        self, records: list, positions: epochs.Positions
    ) -> list[tuple[int, str]] | None:
        delay = 0.5
        while not self.stop_event.is_set():
            try:
                close_old_connections()
                return store(self.spec, records, positions)
            except Exception:
                logger.exception("%s: storing %d records failed", self.name, len(records))
                self.stop_event.wait(delay)
                delay = min(delay * 2, 10)
        return None


def _subscribe(client, topics: list[str]) -> None:
    """Subscribe, with the topics' partitions known before the group is joined.

    kafka-python joins as soon as it is asked to and assigns from the metadata it
    has; on Apache Kafka, whose join of a new group is immediate, a leader that had
    no metadata for a topic yet assigned none of its partitions to anyone, until a
    metadata refresh minutes later. Reading them first is one metadata request.
    """
    client.subscribe(topics)
    for topic in topics:
        client.partitions_for_topic(topic)


class Linger:
    """After a small batch, wait up to ``KAFKA_BRIDGE_LINGER_MS`` for the next fetch
    and take its records with it, when records flow fast enough for some to come.

    At a modest rate each poll brings a record or two, and every batch costs a
    poll, a transaction, a task, a worker wake-up and a relay wake-up whatever
    its size: letting the records right behind the first catch up shares those
    costs among them (a producer's linger, on the consumer side), for at most
    the linger in added latency. It pays only when at least one more record is
    expected within the linger, so a trickle (a quiet server) is stored at once;
    so is a batch of ``LINGER_ENOUGH`` records (a burst, a backlog).
    """

    # The arrival rate is smoothed over about this long.
    RATE_WINDOW_SECONDS = 1.0

    def __init__(self) -> None:
        self.rate = 0.0  # records per second
        self._since = time.monotonic()

    def gather(self, client, batch: dict) -> dict:
        linger = settings.KAFKA_BRIDGE_LINGER_MS / 1000
        count = sum(len(part) for part in batch.values())
        if count and count < LINGER_ENOUGH and linger > 0 and self.rate * linger >= 1:
            # The fetch kafka-python sent behind this batch brings the records
            # that came meanwhile: wait for it, at most the linger.
            more = client.poll(timeout_ms=round(linger * 1000), max_records=LINGER_ENOUGH - count)
            if more:
                batch = {tp: list(part) for tp, part in batch.items()}
                for tp, part in more.items():
                    batch.setdefault(tp, []).extend(part)
                    count += len(part)
        self._observe(count)
        return batch

    def _observe(self, count: int) -> None:
        now = time.monotonic()
        elapsed = max(now - self._since, 0.001)
        self._since = now
        weight = min(1.0, elapsed / self.RATE_WINDOW_SECONDS)
        self.rate += weight * (count / elapsed - self.rate)


# A batch this large already shares its costs well: store it at once.
LINGER_ENOUGH = 100


class OffsetCommits:
    """Commits the consumer's positions once their records are stored, at most every
    ``KAFKA_COMMIT_INTERVAL_MS`` while records flow, and at once when the partitions
    go quiet or the bridge stops.

    A commit is only a bookmark: stored records that come again (a restart, a
    rebalance before the commit) are recognised by the inbox and cost nothing but
    a re-read, so one round trip to the broker per batch buys nothing.
    """

    def __init__(self, client, who: str) -> None:
        self.client = client
        self.who = who
        self.pending = False
        self.last = time.monotonic()

    def stored(self) -> None:
        self.pending = True

    def commit(self, *, idle: bool) -> None:
        interval = settings.KAFKA_COMMIT_INTERVAL_MS / 1000
        if not self.pending or (not idle and time.monotonic() - self.last < interval):
            return
        self.pending = False
        self.last = time.monotonic()
        try:
            self.client.commit()
        except KafkaError as exc:
            # Rebalanced away: the new owner re-reads; stored rows dedupe.
            logger.warning("%s: offset commit failed: %s", self.who, exc)


def build_row(spec: registry.Consumer, record) -> InboxMessage | None:
    """The inbox row for one record, or ``None`` for an event type the app ignores."""
    subscription = spec.subscription_for_topic(record.topic)
    headers = [(name, value) for name, value in (record.headers or [])]
    if subscription is None:
        return None
    decoded = decode(subscription, headers, record.value)
    if decoded.skipped:
        return None
    key = record.key
    return InboxMessage(
        app=spec.app,
        consumer_group=spec.group,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        record_timestamp=getattr(record, "timestamp", None),
        key=key,
        headers=store_headers(
            [(kafka_records.printable_name(name), value) for name, value in headers]
        ),
        value=record.value,
        message_type=decoded.stored_type,
        tenant=tenant_row(decoded.tenant) if decoded.tenant else None,
        ordering_key=ordering_key(spec.app, key),
        state=InboxMessage.State.DEAD if decoded.error else InboxMessage.State.PENDING,
        error=decoded.error,
        handled_at=timezone.now() if decoded.error else None,
        enqueued_at=timezone.now(),
    )


def _store_one_by_one(rows: list[InboxMessage]) -> None:
    """Isolate the record the database refuses: it is kept as a dead letter with the
    refusal as its reason (its value and key as received), and the batch goes on.

    A failure to store even that bare row (the database is down) propagates, and
    the whole batch is tried again later: nothing is committed to Kafka before.
    """
    for row in rows:
        try:
            with transaction.atomic(durable=True):
                InboxMessage.objects.bulk_create([row], ignore_conflicts=True)
            continue
        except DatabaseError as exc:
            reason = f"could not be stored ({type(exc).__name__}): {exc}"[:2000]
        logger.warning("dead letter %s[%d]@%d: %s", row.topic, row.partition, row.offset, reason)
        bare = InboxMessage(
            app=row.app,
            consumer_group=row.consumer_group,
            topic=row.topic,
            partition=row.partition,
            epoch=row.epoch,
            offset=row.offset,
            record_timestamp=row.record_timestamp,
            key=row.key,
            headers=[],
            value=row.value,
            message_type="",
            tenant=None,
            ordering_key=row.ordering_key,
            state=InboxMessage.State.DEAD,
            error=reason.replace("\x00", "\\x00"),
            handled_at=timezone.now(),
            enqueued_at=timezone.now(),
        )
        with transaction.atomic(durable=True):
            InboxMessage.objects.bulk_create([bare], ignore_conflicts=True)


def ordering_key(app: str, key: bytes | None) -> str:
    """``app:`` + the key in hex; a key too long for the column is represented by its
    SHA-256 (still one value per key, so order per key holds)."""
    text = (key or b"").hex()
    if len(text) > 256:
        text = "sha256-" + hashlib.sha256(key or b"").hexdigest()
    return f"{app}:{text}"


def store(
    spec: registry.Consumer, records: list, positions: epochs.Positions | None = None
) -> list[tuple[int, str]]:
    """Store a batch; return what to enqueue: (newest pending id, ordering key) per key.

    With ``positions`` (the bridge's own), a batch that continues where this
    process last stored its partitions is inserted in one statement that returns
    the ids; anything else, a conflict included, takes the checked path.
    """
    rows = [row for row in (build_row(spec, r) for r in records) if row is not None]
    observe.stored(spec.app, records, rows)
    for row in rows:
        if row.state == InboxMessage.State.DEAD:
            logger.warning(
                "dead letter %s[%d]@%d: %s", row.topic, row.partition, row.offset, row.error
            )
    if not rows:
        return []
    if positions is not None and positions.fresh(rows):
        try:
            with transaction.atomic(durable=True):
                statements.insert(_ROW_FIELDS, rows)
        except DatabaseError:
            for row in rows:
                row.pk = None
                row._state.adding = True
        else:
            positions.stored(rows)
            return inbox.newest_per_key(
                (row.id, row.ordering_key)
                for row in rows
                if row.state == InboxMessage.State.PENDING
            )
    pending = _store_checked(spec, rows)
    if positions is not None:
        positions.stored(rows)
    return pending


_ROW_FIELDS = tuple(f.name for f in InboxMessage._meta.concrete_fields if not f.primary_key)


def _store_checked(spec: registry.Consumer, rows: list[InboxMessage]) -> list[tuple[int, str]]:
    """Epochs checked against what is stored, conflicts ignored, a refused row isolated."""
    try:
        with transaction.atomic(durable=True):
            epochs.assign(spec.group, rows)
            InboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    except DatabaseError as exc:
        logger.warning("storing %d records failed (%s); storing them one by one", len(rows), exc)
        with transaction.atomic(durable=True):
            epochs.assign(spec.group, rows)
        _store_one_by_one(rows)
    pending = []
    for topic, partition, epoch in {(r.topic, r.partition, r.epoch) for r in rows}:
        offsets = [
            r.offset for r in rows if (r.topic, r.partition, r.epoch) == (topic, partition, epoch)
        ]
        pending.extend(
            InboxMessage.objects.filter(
                consumer_group=spec.group,
                topic=topic,
                partition=partition,
                epoch=epoch,
                offset__gte=min(offsets),
                offset__lte=max(offsets),
                state=InboxMessage.State.PENDING,
            ).values_list("id", "ordering_key")
        )
    return inbox.newest_per_key(pending)


def run(apps: list[str], stop: threading.Event) -> None:
    """Run one bridge thread per app until ``stop`` is set."""
    specs = registry.running()
    unknown = [a for a in apps if a not in specs]
    if unknown:
        raise ValueError(f"no consumer registered for {unknown}; known: {sorted(specs)}")
    threads = [AppBridge(specs[a], stop) for a in apps if specs[a].subscriptions]
    for thread in threads:
        thread.start()
    while not stop.is_set():
        stop.wait(0.5)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
