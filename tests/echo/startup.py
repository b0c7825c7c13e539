"""Echo's before-serving hook, for the tests of ``project.startup``: it counts its
calls, and fails while ``ECHO_BEFORE_SERVING_FAILS`` is set."""

from __future__ import annotations

import os

calls: list[str] = []


def before_serving() -> None:
    calls.append("echo")
    if os.environ.get("ECHO_BEFORE_SERVING_FAILS"):
        raise RuntimeError("echo told to fail before serving")
