"""The Redis transport's publishing client: made once per channel, renewed with its pool."""

from __future__ import annotations

import pytest

from project.celery import app
from project.redis_transport import Channel


@pytest.fixture
def channel(redis_server):
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)  # CELERY_BROKER_TRANSPORT for redis:// URLs
        yield channel


def test_publishing_reuses_one_client_per_channel(channel):
    first = channel._create_client()
    assert channel._create_client() is first
    assert channel._create_client(asynchronous=True) is not first  # kombu's own


def test_a_replaced_pool_gets_a_new_client(channel):
    first = channel._create_client()
    channel._pool = None  # what kombu does after a connection loss
    second = channel._create_client()
    assert second is not first
    assert second.connection_pool is channel.pool


def test_tasks_are_published_through_it(channel):
    queue = "atlas-test-celery-redis"
    channel.client.delete(queue)
    with app.producer_or_acquire() as producer:
        for _ in range(3):
            app.send_task("tests.nothing", queue=queue, producer=producer)
    assert channel.client.llen(queue) == 3
    channel.client.delete(queue)
