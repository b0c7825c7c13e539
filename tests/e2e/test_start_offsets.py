"""Where a new consumer group starts: each subscription's own policy, per topic.

Transport reads map status from the latest offset (upstream's policy: who entered
which map before the service existed is history) and character status from the
earliest. A bridge of a brand-new group, started after records were written to
both, must store the character status records and skip the old map status ones,
then consume map status records that come after it joined; once the group has
committed offsets, a restart resumes where it left off on both topics.
"""

from __future__ import annotations

import sys
import uuid

import pytest

from project.messaging import wire
from project.messaging.models import InboxMessage
from tests.kafka_helpers import KafkaClient
from tests.stack import Process, serve_topics, stack_of_its_own
from tests.transport.test_handlers import character_event, map_event
from tests.waiting import wait_until
from transport import messages

pytestmark = [pytest.mark.e2e]

MAP_TOPIC = wire.topic_name(messages.EVENT_TOPIC_MAP_STATUS)
CHARACTER_TOPIC = wire.topic_name(messages.EVENT_TOPIC_CHARACTER_STATUS)
HENESYS = 100000000


def rows(group: str, topic: str) -> list[int]:
    """Character ids of the group's inbox rows from ``topic``."""
    found = InboxMessage.objects.filter(consumer_group=group, topic=topic)
    ids = []
    for value in found.values_list("value", flat=True):
        data = wire.loads(bytes(value))
        ids.append(data.get("characterId") or data["body"]["characterId"])
    return sorted(ids)


@pytest.fixture
def broker_of_its_own(stack, tmp_path, settings):
    """A broker and Redis of the test's own, with every topic, and no other consumer."""
    own = stack_of_its_own(tmp_path)
    try:
        serve_topics(own, settings)
        yield own
    finally:
        own.close()


def test_a_new_group_starts_each_topic_where_its_subscription_says(
    broker_of_its_own, transactional_db, tenant_key
):
    own = broker_of_its_own
    group = f"Transport Service [start-{uuid.uuid4().hex[:8]}]"
    client = KafkaClient(own.bootstrap)
    headers = tenant_key.kafka_headers()

    def send(topic_token: str, value: dict, character_id: int) -> None:
        client.produce(topic_token, value, key=wire.key_u32(character_id), headers=headers)

    # given records on both topics written before the group exists
    for character_id in (501, 502, 503):
        send(messages.EVENT_TOPIC_MAP_STATUS, map_event("CHARACTER_ENTER", HENESYS, character_id),
             character_id)  # fmt: skip
        send(messages.EVENT_TOPIC_CHARACTER_STATUS, character_event("LOGOUT", character_id,
             channelId=1, mapId=HENESYS), character_id)  # fmt: skip
    # when transport's bridge, in a new group, starts (and nothing handles its rows)
    bridge = Process(
        "bridge-start",
        [sys.executable, "manage.py", "kafka_bridge", "--apps", "transport"],
        {**own.env, "ATLAS_SERVICES": "transport", "KAFKA_CONSUMER_GROUP": group},
        own.dir,
    ).start()
    try:
        # then the character status records, read from the earliest offset, are stored
        wait_until(lambda: rows(group, CHARACTER_TOPIC) == [501, 502, 503], timeout=60,
                   what="the earlier LOGOUT events stored")  # fmt: skip
        # and a map status record written after it joined is consumed (sent until one
        # lands behind the position the bridge took at the end of the log)
        marker = iter(range(601, 700))

        def a_marker_stored() -> bool:
            character_id = next(marker)
            send(messages.EVENT_TOPIC_MAP_STATUS,
                 map_event("CHARACTER_ENTER", HENESYS, character_id), character_id)  # fmt: skip
            return bool(rows(group, MAP_TOPIC))

        wait_until(a_marker_stored, timeout=60, interval=0.5, what="a later map event stored")
        # but none of the map status records from before the group existed
        assert all(character_id >= 601 for character_id in rows(group, MAP_TOPIC))
        assert "start at the latest offset (no committed offset)" in bridge.output()

        # when the bridge stops, map status records come meanwhile, and it starts again
        bridge.stop()
        for character_id in (701, 702):
            send(messages.EVENT_TOPIC_MAP_STATUS, map_event("CHARACTER_ENTER", HENESYS,
                 character_id), character_id)  # fmt: skip
        bridge.start()
        # then the group resumes from its committed offsets: those records are read
        try:
            wait_until(lambda: {701, 702} <= set(rows(group, MAP_TOPIC)), timeout=60,
                       what="records written while the bridge was down")  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the bridge said:\n{bridge.output()[-4000:]}") from None
        maps = rows(group, MAP_TOPIC)
        assert len(maps) == len(set(maps)) and min(maps) >= 601  # none twice, none of before
        assert rows(group, CHARACTER_TOPIC) == [501, 502, 503]  # none read twice
    finally:
        bridge.stop()
        client.close()
