"""Celery's Redis transport, keeping one Redis client per channel for publishing.

kombu's Redis channel makes a new ``redis.Redis`` for every message it publishes
(a task sent, a batch of monitoring events); redis-py builds its response-callback
table in each constructor, about 0.12 ms, paid by the bridge for every task and
by each worker for every event flush. The connection pool was already shared;
this shares the client object over it as well (redis-py clients are thread-safe),
and makes a new one whenever kombu replaces the pool (after a connection loss).
Selected by ``CELERY_BROKER_TRANSPORT`` for ``redis://`` URLs.
"""

from __future__ import annotations

from kombu.transport import redis


class Channel(redis.Channel):
    _publishing_client = None

    def _create_client(self, asynchronous: bool = False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._publishing_client
        if client is None or client.connection_pool is not self.pool:
            client = self._publishing_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
