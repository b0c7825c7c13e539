"""Fixtures of the invites tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _upstream_invite_timeout(settings):
    """Tests in this process assume upstream's 180 s, whatever the environment says.

    (The e2e worker has its own short timeout, set by the stack's environment.)
    """
    settings.INVITE_TIMEOUT_SECONDS = 180
