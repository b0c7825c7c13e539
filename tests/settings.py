"""Settings for the test suite: the project's settings plus the test-only echo app."""

import os

os.environ.setdefault("ATLAS_EXTRA_APPS", "tests.echo")
os.environ.setdefault("INVITE_SWEEP_SECONDS", "1")
os.environ.setdefault("INBOX_SWEEP_SECONDS", "1")
os.environ.setdefault("INBOX_STALE_SECONDS", "3")
os.environ.setdefault("INBOX_RETRY_BASE_SECONDS", "0.2")
os.environ.setdefault("OUTBOX_SWEEP_SECONDS", "1")

from project.settings import *  # noqa: F403
