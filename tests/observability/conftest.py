"""Fixtures of the observability tests: a shared metrics directory and a real OTLP receiver.

Every process the session starts (the stack's bridge, workers and relay, the REST
server) inherits ``PROMETHEUS_MULTIPROC_DIR`` from this process's environment, as
runstack's children do; it is set here, when the tests are collected, before any
of them starts.
"""

from __future__ import annotations

import os
import tempfile

import pytest

from tests.observability.otlp_receiver import OtlpReceiver

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="atlas-metrics-"))


@pytest.fixture
def otlp_receiver():
    """A real gRPC server implementing the collector's TraceService, in this process."""
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()
