"""Fixtures of the end-to-end tests beyond the session's stack."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.stack import ROOT, empty_database, stack_of_its_own, wait_for_log


@pytest.fixture
def private_stack(stack, tmp_path):
    """Broker, Redis, bridge and worker of this test's own, on the test database: for
    tests that restart or stop them without disturbing the session's stack."""
    own = stack_of_its_own(tmp_path)
    try:
        own.start_infrastructure()
        own["bridge"].start()
        own["worker"].start()
        wait_for_log(own["bridge"], "subscribed to", timeout=60)
        wait_for_log(own["worker"], "ready.", timeout=60)
        yield own
    finally:
        own.close()


@pytest.fixture
def fresh_database(tmp_path):
    """The URL of a migrated database of the test's own (not the test database): for a
    stack whose relay must not see the session stack's rows, nor they its own."""
    with empty_database(tmp_path, "atlas_own") as fresh:
        env = {**os.environ, "DATABASE_URL": fresh, "DJANGO_SETTINGS_MODULE": "project.settings"}
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        yield fresh
