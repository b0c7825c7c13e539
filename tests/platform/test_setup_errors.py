"""Set-up mistakes are said in one line with the fix, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from project import embedded

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_malformed_database_url_names_the_accepted_forms():
    result = manage("check", DATABASE_URL="mysql://db/atlas")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "DATABASE_URL scheme 'mysql' is not supported" in result.stderr
    assert "postgres://user:password@host:port/name" in result.stderr


def test_an_unreachable_postgresql_stops_runstack_before_it_starts_anything(tmp_path):
    port = embedded.free_port()  # nothing listens there
    result = manage(
        "runstack",
        DATABASE_URL=f"postgres://atlas@127.0.0.1:{port}/atlas",
        ATLAS_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot reach the database 127.0.0.1:{port}/atlas" in result.stderr
    assert "start it or fix DATABASE_URL" in result.stderr
    assert "kafka" not in result.stdout.lower()  # nothing was started
