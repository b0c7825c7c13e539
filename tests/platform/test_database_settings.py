"""The database comes from DATABASE_URL or upstream's DB_* variables, never by omission.

Every deployment process (bridge, workers, beat, relay, web) refuses to start
without one, in one line; one started with only upstream's variables reaches
PostgreSQL; upstream's pool settings map onto Django's connection handling.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notes import services as notes
from project import env
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.rest_server import RestClient, RestServer
from tests.stack import database_url

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

PROCESSES = {
    "bridge": [PYTHON, "manage.py", "kafka_bridge"],
    "relay": [PYTHON, "manage.py", "outbox_relay"],
    "worker": [PYTHON, "-m", "celery", "-A", "project", "worker", "-c", "1"],
    "beat": [PYTHON, "-m", "celery", "-A", "project", "beat"],
    "web": [
        PYTHON,
        "-m",
        "gunicorn",
        "-c",
        "project/gunicorn_conf.py",
        "--bind",
        "127.0.0.1:0",
        "project.wsgi:application",
    ],
}
UPSTREAM_DB = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")


def environment_without_database(tmp_path: Path) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", *UPSTREAM_DB}
    }
    environment.update(DJANGO_SETTINGS_MODULE="project.settings", ATLAS_DATA_DIR=str(tmp_path))
    return environment


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_process_without_a_database_setting_refuses_in_one_line(process, tmp_path):
    result = subprocess.run(
        PROCESSES[process],
        cwd=ROOT,
        env=environment_without_database(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("atlas: configuration error: no database configured")
    assert "DATABASE_URL" in lines[0] and "DB_HOST" in lines[0]
    assert not (tmp_path / "atlas.sqlite3").exists()  # nothing was chosen by omission


def test_database_url_wins_over_upstreams_variables(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://a:b@db.example:6543/ours")
    monkeypatch.setenv("DB_HOST", "postgres.home")
    monkeypatch.setenv("DB_NAME", "atlas-notes")
    config = env.database_from_environment()
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", "6543", "ours")


def test_upstreams_variables_name_a_postgresql_database(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in {
        "DB_HOST": "postgres.home",
        "DB_NAME": "atlas-notes",
        "DB_USER": "atlas",
        "DB_PASSWORD": "p@ss word",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DB_PORT", raising=False)
    config = env.database_from_environment()
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"]) == ("postgres.home", "5432")  # libpq's default
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == (
        "atlas-notes",
        "atlas",
        "p@ss word",
    )
    monkeypatch.delenv("DB_NAME")
    with pytest.raises(ImproperlyConfigured, match="DB_NAME"):
        env.database_from_environment()


@pytest.mark.parametrize(
    ("variables", "max_age", "health_checks"),
    [
        ({}, 60, False),
        ({"DB_CONN_MAX_LIFETIME": "5m"}, 300, False),
        ({"DB_CONN_MAX_LIFETIME": "5m", "DB_MAX_IDLE_CONNS": "0"}, 0, False),
        ({"DB_CONN_MAX_IDLE_TIME": "3m"}, 60, True),
    ],
)
def test_upstreams_pool_settings_map_onto_djangos_connections(
    monkeypatch, variables, max_age, health_checks
):
    monkeypatch.setenv("DATABASE_URL", "postgres://a@db/atlas")
    for name in ("DB_CONN_MAX_LIFETIME", "DB_MAX_IDLE_CONNS", "DB_CONN_MAX_IDLE_TIME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    config = env.database_from_environment()
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (max_age, health_checks)


@pytest.mark.django_db(transaction=True)
def test_the_web_process_reaches_postgresql_with_only_upstreams_variables(tmp_path):
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("needs PostgreSQL (bin/test --postgres; CI runs it)")
    url = urlparse(database_url())
    upstream = {
        "DB_HOST": url.hostname or "127.0.0.1",
        "DB_PORT": str(url.port or 5432),
        "DB_NAME": url.path.lstrip("/"),
        "DB_USER": url.username or "",
        "DB_PASSWORD": url.password or "",
    }
    key = TenantKey(uuid.uuid4(), "GMS", 83, 1)
    notes.note_create(
        tenant=tenant_row(key), character_id=7001, sender_id=7002, message="kept", flag=0
    )
    server = RestServer(None, tmp_path, env=upstream)
    client = RestClient(server.url, key)
    try:
        response = client.get("/api/characters/7001/notes")
        assert response.status_code == 200, response.text
        [note] = response.json()["data"]
        assert note["attributes"]["message"] == "kept"
    finally:
        client.close()
        server.close()
