"""The Celery broker transport: kombu's Redis transport with one fault fixed and one cost cut.

**The fault (kombu 5.7 / Celery 5.7).** When a worker loses Redis, Celery's consumer
(``Consumer.on_connection_error_after_connected``) first calls
``connection.collect()``, then ``connection.close()``. ``collect()`` closes the
default channel and then drops the transport's connection settings
(``transport.client = None``). With Redis down, that first close of the channel
fails half-way (its pending BRPOP reply or the delete of its fanout queue raises a
``ConnectionError``, which ``collect`` ignores) before the channel is marked
closed. ``close()`` then closes the same channel again: it drops its connection
pools and, to put its unacknowledged messages back (late acks: the tasks running
and prefetched), builds a new pool from ``transport.client`` — which is ``None``:
``AttributeError: 'NoneType' object has no attribute 'hostname'``. Celery treats
only connection errors as a lost connection, so this one ended the worker process
("Unrecoverable error"). It needed a connection loss noticed while messages were
unacknowledged, which a busy worker nearly always has.

**The fix.** A channel whose transport has been torn down says so with the
``ConnectionError`` of redis-py — the connection *is* gone — which kombu and Celery
already handle everywhere: the second close is ignored, the worker reconnects
(``CELERY_BROKER_CONNECTION_MAX_RETRIES = None``: for as long as it takes), and the
acknowledgement of a task that finishes after the loss is logged ("Couldn't ack")
instead of raised. That message is either gone with Redis's memory or will be
delivered again after the visibility timeout; the inbox row it stood for is done,
so handling it again is a no-op.

**The cost.** kombu's Redis channel makes a new ``redis.Redis`` for every message
it publishes (a task sent, a batch of monitoring events); redis-py builds its
response-callback table in each constructor, about 0.12 ms, paid by the bridge
for every task and by each worker for every event flush. The connection pool was
already shared; the channel now shares one client over it as well (redis-py
clients are thread-safe), and makes a new one whenever kombu replaces the pool.

Selected by ``CELERY_BROKER_TRANSPORT`` for ``redis://`` broker URLs. The methods
overridden here are kombu's private ones, so pyproject.toml keeps Celery and kombu on
the minor this was written against, and tests/platform/test_redis_transport.py
checks the internals it assumes (an upgrade that changed them fails there).
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise RedisConnectionError(
                "this broker channel belongs to a connection that was closed "
                "(the connection to Redis was lost)"
            )
        return super()._connparams(asynchronous=asynchronous)

    _publishing_client = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._publishing_client
        if client is None or client.connection_pool is not self.pool:
            client = self._publishing_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel
