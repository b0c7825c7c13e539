"""The real processes the end-to-end tests drive: broker, Redis, worker, beat, bridge, relay."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

import psycopg
from django.conf import settings

from project import embedded

ROOT = Path(__file__).resolve().parent.parent
# The broker every test that touches one runs on: bin/test --kafka sets kafka.
BROKER = os.environ.get("ATLAS_TEST_BROKER", "tansu")


class Process:
    """A child process in its own process group, its output kept for assertions."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.lines: deque[str] = deque(maxlen=5000)
        self.popen: subprocess.Popen | None = None

    def start(self, extra_env: dict[str, str] | None = None) -> Process:
        env = {**self.env, **(extra_env or {})}
        self.popen = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, args=(self.popen,), daemon=True).start()
        return self

    def _pump(self, popen: subprocess.Popen) -> None:
        with open(self.log_path, "ab") as log:
            for raw in popen.stdout:
                log.write(raw)
                log.flush()
                self.lines.append(raw.decode("utf-8", errors="replace"))

    def output(self) -> str:
        return "".join(self.lines)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group (a prefork worker and its children) at once."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 15) -> int | None:
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


class Stack:
    """Starts every real part on free ports; each process can be killed and restarted."""

    def __init__(
        self,
        base_dir: Path,
        database_url: str,
        settings_module: str,
        extra_env: dict[str, str] | None = None,
        *,
        kafka_port: int | None = None,
        redis_port: int | None = None,
        broker: str | embedded.Broker | None = None,
    ) -> None:
        """The session's stack uses the test run's ports; a test may start a private
        one on ports of its own (e.g. to restart its broker without disturbing others).
        The broker is the test run's (``ATLAS_TEST_BROKER``: tansu or kafka)."""
        self.dir = base_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kafka_port = kafka_port or int(os.environ["ATLAS_TEST_KAFKA_PORT"])
        self.redis_port = redis_port or int(os.environ["ATLAS_TEST_REDIS_PORT"])
        if broker is None or isinstance(broker, str):
            broker = embedded.broker(broker or BROKER, self.kafka_port, self.dir)
        self.broker = broker
        self.bootstrap = broker.bootstrap
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.marker_dir = self.dir / "markers"
        self.marker_dir.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": database_url,
            "BOOTSTRAP_SERVERS": self.bootstrap,
            "REDIS_URL": self.redis_url,
            "ATLAS_DATA_DIR": str(self.dir / "data"),
            "ECHO_MARKER_DIR": str(self.marker_dir),
            "INVITE_TIMEOUT_SECONDS": os.environ.get("E2E_INVITE_TIMEOUT_SECONDS", "6"),
            "PYTHONUNBUFFERED": "1",
            # tests.settings derives BOOTSTRAP_SERVERS and REDIS_URL from these
            "ATLAS_TEST_KAFKA_PORT": str(self.kafka_port),
            "ATLAS_TEST_REDIS_PORT": str(self.redis_port),
            "ATLAS_TEST_BOOTSTRAP_SERVERS": self.bootstrap,
            **(extra_env or {}),
        }
        self.redis: subprocess.Popen | None = None
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "project"]
        self.processes = {
            "worker": Process(
                "worker",
                [
                    *celery,
                    "worker",
                    "-l",
                    "info",
                    "-c",
                    "4",
                    "-P",
                    "prefork",
                    "--without-mingle",
                    "--without-gossip",
                    "-n",
                    f"e2e-{os.getpid()}@%h",
                ],
                self.env,
                self.dir,
            ),
            "lookups": Process(
                "lookups",
                [
                    *celery,
                    "worker",
                    "-l",
                    "info",
                    "-c",
                    "8",
                    "-P",
                    "threads",
                    "-Q",
                    "lookups",
                    "--without-mingle",
                    "--without-gossip",
                    "-n",
                    f"e2e-lookups-{os.getpid()}@%h",
                ],
                self.env,
                self.dir,
            ),
            "beat": Process(
                "beat",
                [*celery, "beat", "-l", "info", "-s", str(self.dir / "beat-schedule")],
                self.env,
                self.dir,
            ),
            "bridge": Process("bridge", [python, "manage.py", "kafka_bridge"], self.env, self.dir),
            "relay": Process("relay", [python, "manage.py", "outbox_relay"], self.env, self.dir),
        }

    def start_kafka(self) -> None:
        self.broker.start()

    def stop_kafka(self) -> None:
        """SIGKILL: Tansu comes back empty, Apache Kafka with its data."""
        self.broker.kill()

    def start_redis(self) -> None:
        self.redis = embedded.start(
            embedded.redis_command(self.redis_port, self.dir / "redis"),
            log=self.dir / "redis.log",
            port=self.redis_port,
        )

    def stop_redis(self) -> None:
        """SIGKILL: an outage, not a shutdown."""
        if self.redis is not None:
            os.killpg(self.redis.pid, signal.SIGKILL)
            self.redis.wait(10)
            self.redis = None

    def start_infrastructure(self) -> None:
        self.start_kafka()
        self.start_redis()

    def start_processes(self) -> None:
        for process in self.processes.values():
            process.start()

    def __getitem__(self, name: str) -> Process:
        return self.processes[name]

    def close(self) -> None:
        for process in self.processes.values():
            process.stop()
        self.broker.kill()  # the data of a test run is not kept: no controlled shutdown
        if self.redis is not None and self.redis.poll() is None:
            os.killpg(self.redis.pid, signal.SIGTERM)
            try:
                self.redis.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.redis.pid, signal.SIGKILL)


def database_url() -> str:
    """The test database (pytest-django's), as a ``DATABASE_URL`` the processes read."""
    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def stack_of_its_own(
    base_dir: Path,
    *,
    database: str | None = None,
    settings_module: str = "tests.settings",
    extra_env: dict[str, str] | None = None,
    broker: embedded.Broker | None = None,
) -> Stack:
    """A stack on a broker and Redis of its own (free ports; nothing started yet), on
    the test database unless ``database`` names another: for a test that stops or
    restarts its parts, or must not share a broker, without disturbing the session's."""
    return Stack(
        base_dir,
        database or database_url(),
        settings_module,
        extra_env,
        kafka_port=embedded.free_port(),
        redis_port=embedded.free_port(),
        broker=broker,
    )


def serve_topics(stack: Stack, test_settings) -> None:
    """Start the stack's broker and Redis, point this process (``test_settings``,
    pytest-django's ``settings``) at that broker, and create every app's topics."""
    from project.messaging import kafka, registry

    stack.start_infrastructure()
    test_settings.BOOTSTRAP_SERVERS = stack.bootstrap.split(",")
    assert kafka.ensure_topics(registry.all_topics()) == []


@contextlib.contextmanager
def empty_database(base_dir: Path, prefix: str) -> Iterator[str]:
    """The URL of an empty database of the test's own, on the test database's server
    (a file beside it on SQLite), dropped afterwards."""
    url = urlparse(database_url())
    if url.scheme == "sqlite":
        yield f"sqlite:///{base_dir / f'{prefix}.sqlite3'}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server = url._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_log(process: Process, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in process.output():
        if time.monotonic() > deadline or not process.alive:
            raise AssertionError(
                f"{process.name} did not log {text!r} within {timeout} s "
                f"(alive={process.alive}); output tail:\n{process.output()[-3000:]}"
            )
        time.sleep(0.05)
