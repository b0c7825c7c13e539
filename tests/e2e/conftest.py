"""Fixtures of the end-to-end tests beyond the session's stack."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from urllib.parse import urlparse

import psycopg
import pytest

from project import embedded
from tests.conftest import _database_url
from tests.stack import ROOT, Stack, wait_for_log


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


@pytest.fixture
def fresh_database(tmp_path):
    """The URL of a migrated database of the test's own (not the test database): for a
    stack whose relay must not see the session stack's rows, nor they its own."""
    url = urlparse(_database_url())
    if url.scheme == "sqlite":
        fresh = f"sqlite:///{tmp_path / 'own.sqlite3'}"
        drop = None
    else:
        name = f"atlas_own_{uuid.uuid4().hex[:12]}"
        server = url._replace(path="/postgres").geturl()
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        fresh = url._replace(path=f"/{name}").geturl()

        def drop() -> None:
            with psycopg.connect(server, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    env = {**os.environ, "DATABASE_URL": fresh, "DJANGO_SETTINGS_MODULE": "project.settings"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    try:
        yield fresh
    finally:
        if drop is not None:
            drop()
