"""What Kafka says about the consumer groups: partitions, committed and end offsets.

Asked at scrape time through a short-lived admin client with short timeouts, so
a slow or absent broker makes ``/api/metrics`` and ``/api/debug/consumers`` say
so instead of hanging.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from django.conf import settings
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError

TIMEOUT_MS = 3000


class _Admin(KafkaAdminClient):
    def _process_acl_operations(self, obj):
        # kafka-python 3.0 fails on operation bits it does not know (Tansu sends
        # some in DescribeGroups); the diagnostics do not need them.
        obj.pop("authorized_operations", None)
        return obj


def admin() -> KafkaAdminClient:
    return _Admin(
        bootstrap_servers=settings.BOOTSTRAP_SERVERS,
        client_id="atlas-observability",
        request_timeout_ms=TIMEOUT_MS,
        bootstrap_timeout_ms=TIMEOUT_MS,
        reconnect_backoff_max_ms=1000,
    )


@dataclass
class GroupState:
    state: str | None = None
    members: int | None = None
    committed: dict[tuple[str, int], int] = field(default_factory=dict)


@dataclass
class Snapshot:
    partitions: dict[str, list[int]] = field(default_factory=dict)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)
    error: str | None = None


def lag(committed: int | None, end: int | None) -> int | None:
    """Records not yet consumed; unknown until the group committed an offset."""
    if committed is None or end is None:
        return None
    return max(0, end - committed)


def snapshot(groups: dict[str, list[str]]) -> Snapshot:
    """Partitions and end offsets of the groups' topics, and each group's state and offsets."""
    result = Snapshot()
    try:
        client = admin()
    except KafkaError as exc:
        result.error = f"cannot reach Kafka: {exc}"
        return result
    try:
        topics = sorted({topic for names in groups.values() for topic in names})
        for described in client.describe_topics(topics):
            if described.get("error_code"):
                continue
            result.partitions[described["name"]] = sorted(
                p["partition_index"] for p in described["partitions"]
            )
        specs = {
            TopicPartition(topic, partition): OffsetSpec.LATEST
            for topic, partitions in result.partitions.items()
            for partition in partitions
        }
        if specs:
            for tp, offset in client.list_partition_offsets(specs).items():
                result.ends[(tp.topic, tp.partition)] = offset.offset
        described_groups = client.describe_groups(list(groups)) if groups else {}
        offsets = client.list_group_offsets({group: None for group in groups}) if groups else {}
        for group in groups:
            info = described_groups.get(group) or {}
            state = GroupState(
                state=info.get("group_state"),
                members=len(info.get("members") or []) if info else None,
            )
            for tp, committed in (offsets.get(group) or {}).items():
                if committed.offset is not None and committed.offset >= 0:
                    state.committed[(tp.topic, tp.partition)] = committed.offset
            result.groups[group] = state
    except KafkaError as exc:
        result.error = f"Kafka: {exc}"
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return result
