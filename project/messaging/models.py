"""The inbox (every consumed record, dead letters included) and the outbox."""

from __future__ import annotations

import base64

from django.db import models

from project.tenancy.models import Tenant

StoredHeaders = list[list[str]]


def store_headers(headers: list[tuple[str, bytes | None]]) -> StoredHeaders:
    """Header values are raw bytes (a version header may not be UTF-8): keep them base64."""
    return [[name, base64.b64encode(value or b"").decode("ascii")] for name, value in headers]


def load_headers(stored: StoredHeaders) -> list[tuple[str, bytes]]:
    return [(name, base64.b64decode(value)) for name, value in stored]


class InboxMessage(models.Model):
    """One consumed Kafka record, stored before its offset is committed.

    Unique on (group, topic, partition, offset), so a redelivered record is a no-op.
    Rows with the same ``ordering_key`` (app + Kafka key) are handled in id order.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        DEAD = "dead"

    app = models.CharField(max_length=32)
    consumer_group = models.CharField(max_length=255)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    # Which life of the partition's log the offset belongs to (see PartitionEpoch).
    epoch = models.PositiveIntegerField(default=0)
    offset = models.BigIntegerField()
    record_timestamp = models.BigIntegerField(
        null=True, blank=True, help_text="the record's Kafka timestamp (ms)"
    )
    key = models.BinaryField(null=True, blank=True)
    headers = models.JSONField(default=list, help_text="[[name, base64 value], …]")
    value = models.BinaryField(null=True, blank=True)
    message_type = models.CharField(max_length=64, blank=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT)
    ordering_key = models.CharField(max_length=320)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    prepared = models.JSONField(
        null=True, blank=True, help_text="result of the handler's prepare step (lookups)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    failure_announced_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when the handler's failure event (on_dead) answered this dead row; "
        "such a row is not replayed",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer_group", "topic", "partition", "epoch", "offset"],
                name="inbox_record",
            )
        ]
        indexes = [
            models.Index(
                fields=["ordering_key", "id"],
                condition=models.Q(state="pending"),
                name="inbox_pending_by_key",
            ),
            models.Index(
                fields=["enqueued_at"],
                condition=models.Q(state="pending"),
                name="inbox_pending_by_enqueue",
            ),
            models.Index(fields=["state", "created_at"], name="inbox_state_created"),
        ]
        verbose_name = "inbox message"

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset} {self.message_type}"

    @property
    def header_list(self) -> list[tuple[str, bytes]]:
        return load_headers(self.headers)


class PartitionEpoch(models.Model):
    """The current life of a partition's log, as one consumer group has seen it.

    Offsets start again at 0 when a topic is deleted and created again, or when the
    embedded broker (memory only) restarts. The bridge notices (the log ends before
    offsets it already stored, or a stored offset holds another record) and moves
    the partition to a new epoch, so new records are never taken for seen ones.
    """

    consumer_group = models.CharField(max_length=255)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    epoch = models.PositiveIntegerField(default=0)
    topic_id = models.CharField(
        max_length=36, blank=True, help_text="the broker's id of the topic this epoch reads"
    )
    reason = models.TextField(blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer_group", "topic", "partition"], name="partition_epoch_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer_group} {self.topic}[{self.partition}] epoch {self.epoch}"


class Replay(models.Model):
    """An operator's replay of a dead letter: who, when, and what came of it."""

    class Outcome(models.TextChoices):
        QUEUED = "queued", "put back in the queue"
        STILL_INVALID = "still invalid", "still invalid, left dead"
        ANNOUNCED = "announced", "its failure was announced, left dead"

    message = models.ForeignKey(InboxMessage, on_delete=models.CASCADE, related_name="replays")
    by = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"replay of {self.message_id} by {self.by or '?'}: {self.outcome}"


class DeadLetter(InboxMessage):
    """Inbox rows that will not be handled without an operator: a proxy for the admin."""

    class Meta:
        proxy = True
        verbose_name = "dead letter"


class OutboxMessage(models.Model):
    """A record to publish, written in the transaction of the change that caused it."""

    topic = models.CharField(max_length=255, help_text="resolved topic name")
    key = models.BinaryField()
    value = models.BinaryField()
    headers = models.JSONField(default=list, help_text="[[name, base64 value], …]")
    message_type = models.CharField(max_length=64, blank=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    parked_at = models.DateTimeField(
        null=True, blank=True, help_text="the broker refused it for good; not retried"
    )
    # Not written by bus.emit's INSERT: a database default.
    error = models.TextField(blank=True, db_default="")
    app = models.CharField(
        max_length=32, blank=True, db_default="", help_text="the app whose work wrote it"
    )
    # The consumed record whose handling wrote it (none for sweeps, the tick, REST,
    # the admin): the shadow switch decides by it whether upstream already published
    # the row's counterpart. No database constraint: inbox rows are purged on their own.
    cause = models.ForeignKey(
        InboxMessage,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Shadow(models.TextChoices):
        NONE = "", "published by the relay"
        HELD = "held", "shadow: held, compared with upstream's"
        UPSTREAM = "upstream", "shadow: upstream published it, never published here"

    shadow = models.CharField(
        max_length=8, blank=True, choices=Shadow.choices, db_default="", default=""
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["id"],
                condition=models.Q(sent_at=None, parked_at=None),
                name="outbox_unsent",
            ),
            models.Index(fields=["sent_at"], name="outbox_sent_at"),
            models.Index(
                fields=["app", "id"], condition=models.Q(shadow="held"), name="outbox_held"
            ),
        ]
        verbose_name = "outbox message"

    def __str__(self) -> str:
        return f"{self.topic} {self.message_type} #{self.pk}"

    @property
    def header_list(self) -> list[tuple[str, bytes]]:
        return load_headers(self.headers)
