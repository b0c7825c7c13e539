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
