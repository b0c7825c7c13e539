"""The Redis transport: its publishing client (made once per channel, renewed with its
pool), its answer to a torn-down connection, and the kombu internals it overrides."""

from __future__ import annotations

import inspect

import pytest
from kombu.connection import Connection
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from project.celery import app
from project.redis_transport import Channel, Transport


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


def test_a_channel_of_a_collected_connection_says_the_connection_is_gone(redis_server):
    # given a channel whose close failed half-way (Redis gone), when collect() goes on to
    # drop the transport's connection settings
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        connection._do_close_transport()
        # then building a pool from it is a connection error, which kombu and Celery handle
        with pytest.raises(RedisConnectionError):
            channel._connparams()


def test_the_kombu_internals_the_override_relies_on_are_as_written_against():
    """project/redis_transport.py overrides private methods of kombu 5.7's Redis channel
    (pyproject.toml keeps kombu and Celery on 5.7): a kombu that renamed them, changed
    their signatures or its teardown must fail here, not in a worker losing Redis."""
    base = kombu_redis.Channel
    for name in ("_connparams", "_create_client"):
        parameters = inspect.signature(getattr(base, name)).parameters
        assert list(parameters) == ["self", "asynchronous"], name
        assert parameters["asynchronous"].default is False, name
    # _connparams reads the transport's connection settings, which teardown drops
    assert "self.connection.client" in inspect.getsource(base._connparams)
    assert "client = None" in inspect.getsource(Connection._do_close_transport)
    assert "_do_close_transport" in inspect.getsource(Connection.collect)
    # the sync client is made over ``pool``, a lazy property over ``_pool``, which kombu
    # empties after a connection loss (the publishing client is renewed then)
    assert isinstance(base.pool, property) and base._pool is None
    assert "self.pool" in inspect.getsource(base._create_client)
    assert "self._pool = None" in inspect.getsource(base._disconnect_pools)
    # the transport makes its channels from its ``Channel`` attribute
    assert kombu_redis.Transport.Channel is base
    assert Transport.Channel is Channel and issubclass(Transport, kombu_redis.Transport)
