"""Fixtures of the notes tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def api(rest):
    """The real HTTP server (gunicorn, as deployed), with this test's tenant headers.

    Its processes see only committed rows, so tests using it run with
    ``transactional_db`` (the ``rest`` fixture asks for it).
    """
    return rest
