"""Secure defaults outside the embedded stack, each refusal through the real process.

A process started without DJANGO_SECRET_KEY refuses in one line (bin/stack and the
tests set a development key explicitly); gunicorn binds the loopback unless told
otherwise; ``check --deploy`` passes with the deployment's settings (the manifests').
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.deploy.manifests import web_container_environment
from tests.platform.test_database_settings import PROCESSES, ROOT


def environment_without_secret_key(tmp_path) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        ATLAS_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'atlas.sqlite3'}",
    )
    return environment


@pytest.mark.parametrize("process", [*sorted(PROCESSES), "migrate", "flower"])
def test_a_process_without_a_secret_key_refuses_in_one_line(process, tmp_path):
    command = {
        "migrate": [sys.executable, "manage.py", "migrate", "--noinput"],
        "flower": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "project",
            "flower",
            "--address=127.0.0.1",
        ],
    }.get(process) or PROCESSES[process]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=environment_without_secret_key(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("atlas: configuration error: DJANGO_SECRET_KEY is not set")
    assert not (tmp_path / "atlas.sqlite3").exists()  # nothing ran


def test_gunicorn_binds_the_loopback_unless_told_otherwise(tmp_path):
    probe = "import runpy; c = runpy.run_path('project/gunicorn_conf.py'); print(c['bind'])"
    environment = {
        **environment_without_secret_key(tmp_path),
        "DJANGO_SECRET_KEY": "x" * 60,
        "REST_PORT": "8123",
    }
    environment.pop("GUNICORN_BIND", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == "127.0.0.1:8123", result.stderr


def test_check_deploy_passes_with_the_deployments_settings(tmp_path):
    """The web Deployment's own variables (deploy/k8s/base), with the operator's
    ConfigMap and Secrets standing in: no warning left, two silenced (settings.py)."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DB_", "ATLAS_", "FLOWER_")) and k != "DATABASE_URL"
    }
    environment.update(web_container_environment())
    environment.update(
        # the operator's atlas-env, db-credentials and atlas-social Secret
        DB_HOST="postgres.home",
        DB_PORT="5432",
        DB_USER="atlas",
        DB_PASSWORD="secret",
        DJANGO_SECRET_KEY="Zr5-9qXo_vN2u8" * 5,
        ATLAS_DATA_DIR=str(tmp_path),
        ATLAS_STATIC_ROOT=str(tmp_path / "static"),
        PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    result = subprocess.run(
        [str(ROOT / "deploy" / "entrypoint.sh"), "manage", "check", "--deploy",
         "--fail-level", "WARNING"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (2 silenced)." in result.stdout
