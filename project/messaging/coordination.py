"""Small Redis signals between processes; each is an optimisation with a fallback.

* Relay wake-ups: a publish after commit, waited for by ``RelayWakeups``;
  without them the relay still polls.
* Queued-key flags: the bridge skips enqueueing a key that already has a task
  waiting, because that task drains every pending row of the key. Under load this
  turns a queue of one-row tasks into few large batches. A flag expires after
  ``INBOX_STALE_SECONDS``; without Redis every key is simply enqueued, and the
  inbox sweeper re-enqueues whatever a lost flag or task left behind.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WAKE_CHANNEL = "atlas:outbox:wake"
QUEUED_PREFIX = "atlas:inbox:queued:"

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """This process's Redis connection pool (lazily made: settings may change in tests)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
    return _client


def wake_relay() -> None:
    try:
        client().publish(WAKE_CHANNEL, b"1")
    except redis.RedisError as exc:
        logger.debug("could not wake the relay: %s", exc)


class RelayWakeups:
    """The relay's side of ``wake_relay``: wait for a wake-up, or sleep if Redis is away."""

    def __init__(self) -> None:
        self.pubsub: redis.client.PubSub | None = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        try:
            if self.pubsub is None:
                # Its own connection: a subscribed connection serves nothing else.
                connection = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
                self.pubsub = connection.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(WAKE_CHANNEL)
            message = self.pubsub.get_message(timeout=timeout)
            if message is not None and settings.OUTBOX_RELAY_LINGER_SECONDS > 0:
                # Let the commits of other workers land too: one batch, not many.
                stop.wait(settings.OUTBOX_RELAY_LINGER_SECONDS)
            while message is not None:  # coalesce a burst of wake-ups
                message = self.pubsub.get_message(timeout=0)
        except redis.RedisError as exc:
            logger.debug("wake-up channel unavailable: %s", exc)
            self.close()
            stop.wait(timeout)

    def close(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(Exception):
                self.pubsub.close()
            self.pubsub = None


def claim_keys(keys: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The keys that had no task waiting (their flag is now set); all keys if Redis fails."""
    if not keys:
        return []
    ttl = max(1, int(settings.INBOX_STALE_SECONDS))
    try:
        pipe = client().pipeline(transaction=False)
        for _, ordering_key in keys:
            pipe.set(QUEUED_PREFIX + ordering_key, b"1", nx=True, ex=ttl)
        claimed = pipe.execute()
    except redis.RedisError as exc:
        logger.debug("queued-key flags unavailable: %s", exc)
        return keys
    return [key for key, ok in zip(keys, claimed, strict=True) if ok]


def release_keys(ordering_keys: Iterable[str]) -> None:
    """Called by a task before it reads its keys' rows: later rows need a new task."""
    names = [QUEUED_PREFIX + key for key in ordering_keys]
    if not names:
        return
    try:
        client().delete(*names)
    except redis.RedisError as exc:
        logger.debug("queued-key flags unavailable: %s", exc)


PREPARING_PREFIX = "atlas:inbox:preparing:"


def claim_prepare(inbox_id: int, ttl: float) -> bool:
    """True if no prepare step of this row is already under way (or Redis is away).

    Keeps the sweeper's re-sends of a waiting key from starting a second lookup
    while a slow service is still answering the first; the flag outlives a lost
    lookups worker by at most ``ttl`` seconds.
    """
    try:
        return bool(
            client().set(PREPARING_PREFIX + str(inbox_id), b"1", nx=True, ex=max(1, int(ttl)))
        )
    except redis.RedisError as exc:
        logger.debug("preparing flags unavailable: %s", exc)
        return True


def release_prepare(inbox_id: int) -> None:
    try:
        client().delete(PREPARING_PREFIX + str(inbox_id))
    except redis.RedisError as exc:
        logger.debug("preparing flags unavailable: %s", exc)
