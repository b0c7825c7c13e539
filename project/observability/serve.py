"""``python -m project.observability.serve --port 9400``: a machine's metrics on their own port.

For a machine that runs bridges, workers or relays but no web server: it serves
the sum of what every process of the machine wrote to ``PROMETHEUS_MULTIPROC_DIR``
at ``http://<host>:<port>/metrics``. The scrape-time gauges (backlogs, lag) are the
deployment's, not a machine's: any web server's ``/api/metrics`` has them.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from prometheus_client import CollectorRegistry, start_http_server

from project.observability import multiproc
from project.observability.metrics import MachineCollector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--address", default="0.0.0.0")
    args = parser.parse_args(argv)
    directory = os.environ.get(multiproc.ENV, "")
    if not directory or not os.path.isdir(directory):
        parser.error(f"{multiproc.ENV} must name the directory the processes write to")
    registry = CollectorRegistry()
    registry.register(MachineCollector(directory))
    server, _thread = start_http_server(args.port, addr=args.address, registry=registry)
    print(f"metrics of {directory} on http://{args.address}:{args.port}/metrics", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()


if __name__ == "__main__":
    main()
