"""``manage.py runstack`` starts every process, serves admin and Flower, and stops cleanly.

Runs the real command as a subprocess on free ports with its own data directory:
embedded Kafka and Redis, migrate, bridge, worker, beat, relay, web and Flower.
Start-up and shutdown times are printed (visible with ``-s``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import httpx
import pytest

from project import embedded
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = [
    "kafka",
    "redis",
    "migrate",
    "bridge",
    "worker",
    "lookups",
    "beat",
    "relay",
    "web",
    "flower",
]


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: pid -> start time (to tell a reused pid apart)."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        started[int(entry)] = fields[19]
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = started[child]
            todo.append(child)
    return found


def still_running(pid: int, start_time: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start_time and fields[0] != "Z"


class Lines:
    """The stack's stdout, collected by a thread so the pipe never fills."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in stream:
            self.lines.append(raw.decode("utf-8", errors="replace"))

    def text(self) -> str:
        return "".join(self.lines)

    def prefixes(self) -> set[str]:
        return {m.group(1) for m in re.finditer(r"^(\w+) *\| ", self.text(), re.MULTILINE)}


@pytest.mark.e2e
def test_runstack_serves_admin_and_flower_and_stops_cleanly(tmp_path):
    ports = {name: embedded.free_port() for name in ("kafka", "redis", "web", "flower")}
    # The project's own settings, as `bin/stack` runs them; none of the test run's
    # broker, Redis or ATLAS_* choices (tests.settings points BOOTSTRAP_SERVERS and
    # REDIS_URL at the test session's servers, which would turn the embedded ones off).
    # DATABASE_URL stays: under `bin/test --postgres` the stack runs on PostgreSQL.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BOOTSTRAP_SERVERS", "REDIS_URL", "PYTEST_CURRENT_TEST"}
        and not key.startswith("ATLAS_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        ATLAS_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path}/atlas.sqlite3",
        ATLAS_ADMIN_PASSWORD="s3cret",
        NO_COLOR="1",
    )
    command = [
        sys.executable, "manage.py", "runstack",
        "--kafka-port", str(ports["kafka"]), "--redis-port", str(ports["redis"]),
        "--web-port", str(ports["web"]), "--flower-port", str(ports["flower"]),
        "--workers", "1",
    ]  # fmt: skip
    began = time.monotonic()
    stack = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = Lines(stack.stdout)
    web = f"http://127.0.0.1:{ports['web']}"
    tree: dict[int, str] = {}
    try:
        # Given a started stack
        def ready() -> bool:
            assert stack.poll() is None, f"runstack exited early:\n{output.text()}"
            return (
                http_status(f"{web}/admin/login/") == 200
                and http_status(f"http://127.0.0.1:{ports['flower']}/") == 200
                and "stack   | ready in" in output.text()
                and set(PROCESSES) <= output.prefixes()
            )

        wait_until(ready, timeout=40, interval=0.2, what="admin, Flower and every process")
        started = time.monotonic() - began
        text = output.text()
        assert f"admin:  {web}/admin/" in text, text[-4000:]
        assert f"Flower: http://127.0.0.1:{ports['flower']}/" in text
        if not os.environ.get("DATABASE_URL"):  # a fresh SQLite file has no user yet
            assert "created superuser 'admin' with password 's3cret'" in text
        assert http_status(f"{web}/static/admin/css/base.css") == 200  # static files served
        # REST on the same server, underscore tenant headers kept (gunicorn's header map)
        tenant = {"TENANT_ID": str(uuid.uuid4()), "REGION": "GMS"}
        tenant |= {"MAJOR_VERSION": "83", "MINOR_VERSION": "1"}
        response = httpx.get(f"{web}/api/characters/7/invites", headers=tenant, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["data"] == []
        assert httpx.get(f"{web}/api/characters/7/invites", timeout=10).status_code == 400
        wait_until(
            lambda: "celery@" in output.text() and " ready." in output.text(),
            timeout=20,
            what="the worker to be ready",
        )
        tree = descendants(stack.pid)
        assert len(tree) >= 10, tree  # 9 children and the worker's pool process

        # When it is asked to stop
        stopping = time.monotonic()
        stack.send_signal(signal.SIGTERM)
        code = stack.wait(timeout=25)
        stopped = time.monotonic() - stopping

        # Then every process has exited, and the supervisor with 0
        assert code == 0, output.text()[-3000:]
        leftovers = [pid for pid, start in tree.items() if still_running(pid, start)]
        assert not leftovers, f"still running: {leftovers}"
        output.thread.join(5)
        assert "stack   | stopped in" in output.text()
        print(f"runstack: ready after {started:.1f} s, stopped after {stopped:.1f} s")
        print("".join(line for line in output.lines if line.startswith("stack ")))
    finally:
        if stack.poll() is None:  # the test failed half-way: leave nothing behind
            tree.update(descendants(stack.pid))
            stack.kill()
            stack.wait()
        for pid, start in tree.items():
            if still_running(pid, start):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.e2e
def test_an_unreachable_broker_is_said_plainly_ready_is_not_printed_and_stop_is_quick(tmp_path):
    # given a stack pointed at a Kafka address where nothing listens
    ports = {name: embedded.free_port() for name in ("kafka", "redis", "web", "flower")}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BOOTSTRAP_SERVERS", "REDIS_URL", "PYTEST_CURRENT_TEST"}
        and not key.startswith("ATLAS_")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        ATLAS_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path}/atlas.sqlite3",
        BOOTSTRAP_SERVERS=f"127.0.0.1:{ports['kafka']}",
        NO_COLOR="1",
    )
    command = [
        sys.executable, "manage.py", "runstack",
        "--redis-port", str(ports["redis"]),
        "--web-port", str(ports["web"]), "--flower-port", str(ports["flower"]),
        "--workers", "1",
    ]  # fmt: skip
    stack = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = Lines(stack.stdout)
    tree: dict[int, str] = {}
    try:
        # then it says Kafka cannot be reached, the web server is up, and ready is not said
        wait_until(
            lambda: (
                "cannot be reached" in output.text()
                and http_status(f"http://127.0.0.1:{ports['web']}/admin/login/") == 200
            ),
            timeout=60,
            interval=0.2,
            what="the unreachable-Kafka message and the web server",
        )
        wait_until(
            lambda: "Kafka cannot be reached at" in output.text(),
            timeout=30,
            what="bridge and relay saying it too",
        )
        assert "ready in" not in output.text()
        tree = descendants(stack.pid)

        # when it is asked to stop, then everything is gone within a few seconds
        stopping = time.monotonic()
        stack.send_signal(signal.SIGTERM)
        assert stack.wait(timeout=25) == 0
        assert time.monotonic() - stopping < 12, output.text()[-3000:]
        assert not [pid for pid, start in tree.items() if still_running(pid, start)]
    finally:
        if stack.poll() is None:
            tree.update(descendants(stack.pid))
            stack.kill()
            stack.wait()
        for pid, start in tree.items():
            if still_running(pid, start):
                os.kill(pid, signal.SIGKILL)
