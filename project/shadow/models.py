"""Shadow mode's state: each shadowed service's mode, upstream's records, the results.

A service named in ``ATLAS_SHADOW`` without a ``ShadowService`` row is in shadow
mode; ``shadow_switch`` writes the row that turns it live, with the boundary, so
every process sees the switch through the database without a restart.
"""

from __future__ import annotations

from django.db import models

from project.messaging.models import OutboxMessage


class ShadowService(models.Model):
    """One shadowed service: in shadow mode, or live since its switch."""

    class State(models.TextChoices):
        SHADOW = "shadow"
        LIVE = "live"

    app = models.CharField(max_length=32, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.SHADOW)
    started_at = models.DateTimeField(auto_now_add=True)
    switched_at = models.DateTimeField(null=True, blank=True)
    upstream_group = models.CharField(max_length=255, blank=True)
    group = models.CharField(
        max_length=255, blank=True, help_text="the group the service consumed under at the switch"
    )
    boundary = models.JSONField(
        default=dict,
        blank=True,
        help_text="{topic: {partition: offset}}: upstream's committed offsets at the switch; "
        "records before them were upstream's to publish",
    )

    def __str__(self) -> str:
        return f"{self.app}: {self.state}"

    def before_boundary(self, topic: str, partition: int, offset: int) -> bool:
        """Whether upstream handled (and published for) the record at this position."""
        committed = self.boundary.get(topic, {}).get(str(partition))
        return committed is not None and offset < committed


class UpstreamMessage(models.Model):
    """A record the Go service published on a shadowed service's output topic."""

    service = models.CharField(max_length=32)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    timestamp = models.DateTimeField(help_text="the record's Kafka timestamp")
    key = models.BinaryField(null=True, blank=True)
    value = models.BinaryField(null=True, blank=True)
    headers = models.JSONField(default=list, help_text="[[name, base64 value], …]")
    message_type = models.CharField(max_length=64, blank=True)
    tenant = models.CharField(max_length=36, blank=True)
    transaction_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    paired = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "partition", "offset"], name="shadow_upstream_record"
            )
        ]
        indexes = [
            models.Index(
                fields=["topic", "timestamp"],
                condition=models.Q(paired=False),
                name="shadow_upstream_unpaired",
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset} {self.message_type}"


class Result(models.Model):
    """How one outgoing record of ours, one of upstream's, or a pair of them, compared."""

    class Class(models.TextChoices):
        MATCHED = "matched"
        DIFFERENT = "different"
        EXPECTED = "expected"
        MISSING_UPSTREAM = "missing_upstream", "missing upstream"
        MISSING_HERE = "missing_here", "missing here"
        NO_BASELINE = "no_baseline", "no baseline"

    UNEXPECTED = (Class.DIFFERENT, Class.MISSING_UPSTREAM, Class.MISSING_HERE)

    service = models.CharField(max_length=32)
    topic = models.CharField(max_length=255)
    message_type = models.CharField(max_length=64, blank=True)
    klass = models.CharField("class", max_length=16, choices=Class.choices)
    rule = models.CharField(max_length=100, blank=True, help_text="the rule that explains it")
    diff = models.JSONField(
        default=list, blank=True, help_text="[{path, ours, upstream}, …] after id mapping"
    )
    tenant = models.CharField(max_length=36, blank=True)
    ours = models.OneToOneField(
        OutboxMessage,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="shadow_result",
    )
    theirs = models.OneToOneField(
        UpstreamMessage,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="result",
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["decided_at", "klass"], name="shadow_result_when")]

    def __str__(self) -> str:
        return f"{self.service} {self.topic} {self.message_type}: {self.klass}"


class IdPair(models.Model):
    """An id each side assigns on its own, as learnt from the first paired message."""

    service = models.CharField(max_length=32)
    tenant = models.CharField(max_length=36)
    kind = models.CharField(max_length=32)
    ours = models.CharField(max_length=64)
    theirs = models.CharField(max_length=64)
    learnt_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "ours"], name="shadow_id_ours"),
            models.UniqueConstraint(fields=["tenant", "kind", "theirs"], name="shadow_id_theirs"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.ours} ↔ {self.theirs}"


class UnknownInput(models.Model):
    """A consumed record naming an entity of upstream's that the shadow never saw made
    (it existed before the shadow started): what it causes has no baseline."""

    inbox_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=32)
    theirs = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"inbox row {self.inbox_id}: upstream's {self.kind} {self.theirs}"
