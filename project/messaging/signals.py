"""Turning SIGTERM / SIGINT into a stop event for the long-running commands."""

import signal
import threading


def stop_event() -> threading.Event:
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop
