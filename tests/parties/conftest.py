"""Fixtures of the parties tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _local_directory(local_directory):
    """Lookups in this process answer from the local directory unless a test points
    them at the stand-in services (``fake_services``)."""
