"""Consumer diagnostics: groups, assigned partitions, committed offsets and lag.

Committed and end offsets come from Kafka (``kafka_state``). Which bridge holds
which partitions comes from the bridges themselves: every bridge thread writes
its assignment to Redis every couple of seconds (a key that expires after
``REPORT_TTL``), because brokers need not describe members' assignments (Tansu
answers DescribeGroups with empty assignments) and a bridge knows its own.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time

import redis

from project.messaging import coordination, registry
from project.observability import kafka_state

logger = logging.getLogger(__name__)

REPORT_PREFIX = "atlas:consumers:"
REPORT_EVERY = 2.0
REPORT_TTL = 10
_last_report: dict[str, float] = {}


def _member() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def report_assignment(group: str, client) -> None:
    """Called by a bridge thread after each poll; writes at most every ``REPORT_EVERY`` s."""
    member = _member()
    now = time.monotonic()
    if now - _last_report.get(member, 0.0) < REPORT_EVERY:
        return
    _last_report[member] = now
    partitions = []
    for tp in sorted(client.assignment(), key=lambda tp: (tp.topic, tp.partition)):
        partitions.append(
            {"topic": tp.topic, "partition": tp.partition, "highwater": client.highwater(tp)}
        )
    report = {"group": group, "member": member, "partitions": partitions, "at": time.time()}
    try:
        coordination.client().set(
            f"{REPORT_PREFIX}{group}:{member}", json.dumps(report), ex=REPORT_TTL
        )
    except redis.RedisError as exc:
        logger.debug("cannot report the assignment: %s", exc)


def reported_assignments() -> dict[str, list[dict]]:
    """Group id → the reports of the bridges that hold its partitions now."""
    found: dict[str, list[dict]] = {}
    try:
        connection = coordination.client()
        names = list(connection.scan_iter(match=REPORT_PREFIX + "*", count=500))
        values = connection.mget(names) if names else []
    except redis.RedisError as exc:
        logger.warning("cannot read the bridges' assignments: %s", exc)
        return found
    for raw in values:
        if raw is None:
            continue
        report = json.loads(raw)
        found.setdefault(report["group"], []).append(report)
    for reports in found.values():
        reports.sort(key=lambda r: r["member"])
    return found


def consumers() -> dict:
    """The document of ``GET /api/debug/consumers``."""
    from project.shadow import switch

    switch.keep_groups_if_readable()  # a switched service under the group it kept
    groups: dict[str, dict] = {}
    for app, consumer in sorted(registry.running().items()):
        topics = consumer.topics
        if not topics:
            continue
        entry = groups.setdefault(
            consumer.group, {"group": consumer.group, "apps": [], "topics": set()}
        )
        entry["apps"].append(app)
        entry["topics"].update(topics)
    reported = reported_assignments()
    snapshot = kafka_state.snapshot({g: sorted(e["topics"]) for g, e in groups.items()})
    documents = []
    for group, entry in groups.items():
        state = snapshot.groups.get(group, kafka_state.GroupState())
        assigned = {
            (p["topic"], p["partition"]): report["member"]
            for report in reported.get(group, [])
            for p in report["partitions"]
        }
        partitions = []
        for topic in sorted(entry["topics"]):
            for partition in snapshot.partitions.get(topic, []):
                committed = state.committed.get((topic, partition))
                end = snapshot.ends.get((topic, partition))
                partitions.append(
                    {
                        "topic": topic,
                        "partition": partition,
                        "assignedTo": assigned.get((topic, partition)),
                        "committed": committed,
                        "end": end,
                        "lag": kafka_state.lag(committed, end),
                    }
                )
        documents.append(
            {
                "group": group,
                "apps": entry["apps"],
                "state": state.state,
                "members": state.members,
                "topics": sorted(entry["topics"]),
                "partitions": partitions,
                "bridges": [
                    {
                        "member": report["member"],
                        # highwater: the end of the log as this bridge's last fetch saw it
                        "partitions": [
                            {
                                "topic": p["topic"],
                                "partition": p["partition"],
                                "highwater": p.get("highwater"),
                            }
                            for p in report["partitions"]
                        ],
                        "reportedAt": report["at"],
                    }
                    for report in reported.get(group, [])
                ],
            }
        )
    return {"kafka": snapshot.error or "ok", "groups": documents}
