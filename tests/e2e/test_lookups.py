"""Lookups of outside services run in the prepare step, outside the inbox transaction:
a character service that takes 5 s to answer delays its own key only."""

from __future__ import annotations

import time
import uuid

import pytest

from project.messaging import wire
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.echo.models import Effect
from tests.kafka_helpers import value_of
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


def lookup(id_: int, character_id: int) -> dict:
    return {
        "transactionId": str(uuid.uuid4()),
        "type": "LOOKUP",
        "body": {"id": id_, "characterId": character_id},
    }


def ping(id_: int) -> dict:
    return {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_, "seq": 1}}


def effect_levels(tenant_key, key_id: int) -> list[int]:
    return list(
        Effect.objects.filter(tenant__uuid=tenant_key.id, key_id=key_id).values_list(
            "seq", flat=True
        )
    )


def test_a_slow_character_service_delays_only_its_own_key(
    kafka_client, tenant_key, fake_services_server
):
    # given a character service that answers character 501 only after 5 s
    fake_services_server.character(tenant_key, 501, name="Slow", level=33, delay=5)
    headers = tenant_key.kafka_headers()
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)

    # when a lookup of that character is sent, and then pings of other keys
    began = time.monotonic()
    kafka_client.produce(
        COMMAND_TOPIC_ECHO, lookup(7001, 501), key=wire.key_u32(7001), headers=headers
    )
    for id_ in (7002, 7003, 7004):
        kafka_client.produce(COMMAND_TOPIC_ECHO, ping(id_), key=wire.key_u32(id_), headers=headers)

    # then the other keys' pongs arrive well before the service has answered
    seen = pongs.wait_for(lambda r: value_of(r)["id"] in (7002, 7003, 7004), count=3, timeout=15)
    others_done = time.monotonic() - began
    assert len(seen) == 3
    assert others_done < 4.5, f"other keys took {others_done:.1f} s"
    assert effect_levels(tenant_key, 7001) == []

    # and the slow key is handled once the service answered, with what it said
    wait_until(lambda: effect_levels(tenant_key, 7001) == [33], timeout=20, what="slow lookup")
    assert time.monotonic() - began >= 5
    (request,) = fake_services_server.requests_to("characters/501")
    assert request.headers["TENANT_ID"] == str(tenant_key.id)
