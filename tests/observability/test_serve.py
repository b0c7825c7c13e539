"""The machine's metrics on a port of their own, summed over the processes that wrote them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from project import embedded
from tests.observability.scraping import parse, value
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
COUNT = "from project.observability import metrics; metrics.CONSUMED.labels('echo', 'T').inc({n})"


def test_serve_sums_what_every_process_of_the_machine_counted(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    # two processes (a bridge and a worker, say) count in the shared directory and exit
    for n in (2, 3):
        subprocess.run(
            [sys.executable, "-c", COUNT.format(n=n)], cwd=ROOT, env=env, check=True, timeout=60
        )
    port = embedded.free_port()
    command = ["-m", "project.observability.serve", "--port", str(port), "--address", "127.0.0.1"]
    server = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
    )
    try:

        def scraped():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except httpx.TransportError:
                return None

        response = wait_until(scraped, what="the metrics server")
    finally:
        server.terminate()
        server.wait(10)

    assert response.status_code == 200
    assert value(parse(response.text), "atlas_records_consumed_total", app="echo", topic="T") == 5


FLOWER = (
    "from flower.events import get_prometheus_metrics; m = get_prometheus_metrics(); "
    "m.worker_online.labels('celery@w1').set(1); "
    "m.events.labels('celery@w1', 'task-succeeded', 'echo').inc()"
)
EXPOSE = (
    "import sys; from project.observability import metrics; "
    "sys.stdout.buffer.write(metrics.exposition())"
)


def test_flowers_instruments_in_a_shared_directory_are_not_summed_as_ours(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    # given a worker's count and a Flower process's gauges, written to the same directory
    for code in (COUNT.format(n=2), FLOWER):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    assert any(path.name.startswith("gauge_") for path in tmp_path.iterdir())

    # when the machine's metrics are read (as /api/metrics and serve read them)
    text = subprocess.run(
        [sys.executable, "-c", EXPOSE], cwd=ROOT, env=env, check=True, timeout=60,
        capture_output=True, text=True,
    ).stdout  # fmt: skip

    # then ours are there, and none of Flower's (they are Flower's own, at its /metrics)
    samples = parse(text)
    assert value(samples, "atlas_records_consumed_total", app="echo", topic="T") == 2
    assert not [name for name, _ in samples if name.startswith("flower_")]


def test_the_stack_gives_flower_no_metrics_directory(tmp_path, monkeypatch):
    from project.stack import Stack, StackConfig

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    ports = [embedded.free_port() for _ in range(4)]
    config = StackConfig(ROOT, tmp_path, *ports, workers=1, admin_password="unused")
    runstack = Stack(config, ensure_admin=lambda password: False)
    runstack._claim()  # what a start that is not refused does first
    try:
        children = {
            name: runstack._child(name, command) for name, command, _ in runstack._commands()
        }
    finally:
        runstack._shutdown()
    # every process of the stack counts in its metrics directory, Flower not
    assert children["web"].env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    assert children["worker"].env["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    assert "PROMETHEUS_MULTIPROC_DIR" not in children["flower"].env
