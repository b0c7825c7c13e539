"""A stack refused at start (ports in use, data directory held) touches nothing of the
stack already running: above all not the metrics directory its processes write to."""

from __future__ import annotations

import fcntl
import io
import socket
from pathlib import Path

import pytest

from project import embedded, stack
from project.observability import multiproc

ROOT = Path(__file__).resolve().parents[2]
COUNTS = b"the running stack's counters"


@pytest.fixture
def running(tmp_path, monkeypatch):
    """The data directory of a running stack: its metrics files written."""
    monkeypatch.delenv(multiproc.ENV, raising=False)
    data_dir = tmp_path / "data"
    (data_dir / "metrics").mkdir(parents=True)
    counters = data_dir / "metrics" / "counter_4242.db"
    counters.write_bytes(COUNTS)
    return data_dir, counters


def start(data_dir: Path, web_port: int) -> tuple[int, str]:
    config = stack.StackConfig(
        base_dir=ROOT,
        data_dir=data_dir,
        kafka_port=embedded.free_port(),
        redis_port=embedded.free_port(),
        web_port=web_port,
        flower_port=embedded.free_port(),
        workers=1,
        admin_password="unused",
    )
    output = io.StringIO()
    code = stack.Stack(config, ensure_admin=lambda password: False, stream=output).run()
    return code, output.getvalue()


def test_a_start_refused_for_a_port_in_use_leaves_the_metrics_alone(running):
    data_dir, counters = running
    # given the running stack's web server on its port
    with socket.socket() as web:
        web.bind((stack.HOST, 0))
        web.listen()
        # when a second stack is started with that port
        code, output = start(data_dir, web.getsockname()[1])

    # then it is refused, and the running stack's counters are still there
    assert code == 1
    assert "port(s) in use" in output
    assert counters.read_bytes() == COUNTS


def test_a_start_refused_for_a_held_data_dir_leaves_the_metrics_alone(running):
    data_dir, counters = running
    # given the running stack's lock on its data directory
    with open(data_dir / stack.LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # when a second stack is started on free ports with the same data directory
        code, output = start(data_dir, embedded.free_port())

    # then it is refused, and the running stack's counters are still there
    assert code == 1
    assert "another stack runs with the data dir" in output
    assert counters.read_bytes() == COUNTS
