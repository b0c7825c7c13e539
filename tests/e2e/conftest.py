"""Fixtures of the end-to-end tests beyond the session's stack."""

from __future__ import annotations

import pytest

from project import embedded
from tests.conftest import _database_url
from tests.stack import Stack, wait_for_log


@pytest.fixture
def private_stack(stack, tmp_path):
    """Broker, Redis, bridge and worker of this test's own, on the test database: for
    tests that restart or stop them without disturbing the session's stack."""
    own = Stack(
        tmp_path,
        _database_url(),
        "tests.settings",
        kafka_port=embedded.free_port(),
        redis_port=embedded.free_port(),
    )
    try:
        own.start_infrastructure()
        own["bridge"].start()
        own["worker"].start()
        wait_for_log(own["bridge"], "subscribed to", timeout=60)
        wait_for_log(own["worker"], "ready.", timeout=60)
        yield own
    finally:
        own.close()
