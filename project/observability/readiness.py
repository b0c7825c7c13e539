"""``GET /api/readyz``: ready only when the database, Redis and Kafka all answer.

Each check has a short timeout so the probe answers within a few seconds even
when a dependency hangs; the first failure is logged (at WARNING) with its cause.
"""

from __future__ import annotations

import contextlib
import logging

import redis
from django.conf import settings
from django.db import connection

from project.observability import kafka_state

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def redis_ping() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def kafka() -> None:
    client = kafka_state.admin()
    try:
        client.describe_cluster()
    finally:
        with contextlib.suppress(Exception):
            client.close()


CHECKS = {"database": database, "redis": redis_ping, "kafka": kafka}


def failures() -> dict[str, str]:
    """Each dependency that did not answer, with why; empty when ready."""
    failed: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure to answer means not ready
            failed[name] = f"{type(exc).__name__}: {exc}"
    if failed:
        logger.warning("not ready: %s", failed)
    return failed
