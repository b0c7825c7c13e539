"""Fixtures of the in-process platform tests: a real Redis."""

from __future__ import annotations

import os
import socket

import pytest

from project import embedded


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """The test run's Redis (REDIS_URL points at ATLAS_TEST_REDIS_PORT).

    The e2e ``stack`` fixture starts Redis on the same port; if something already
    listens there it is reused, else a real redis-server is started for the session.
    """
    port = int(os.environ["ATLAS_TEST_REDIS_PORT"])
    if _listening(port):
        yield port
        return
    process = embedded.start(
        embedded.redis_command(port, tmp_path_factory.mktemp("redis")), port=port
    )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
