"""Settings for the test suite: the project's settings plus the test-only echo app."""

import os

os.environ.setdefault("ATLAS_EXTRA_APPS", "tests.echo")
os.environ.setdefault("INVITE_SWEEP_SECONDS", "1")
os.environ.setdefault("INBOX_SWEEP_SECONDS", "1")
os.environ.setdefault("INBOX_STALE_SECONDS", "3")
os.environ.setdefault("INBOX_RETRY_BASE_SECONDS", "0.2")
os.environ.setdefault("OUTBOX_SWEEP_SECONDS", "1")

# The embedded broker and Redis of this test run listen on ports chosen here, once,
# so the test process and every process it starts agree on them from the start.
from project.embedded import free_port

os.environ.setdefault("ATLAS_TEST_KAFKA_PORT", str(free_port()))
os.environ.setdefault("ATLAS_TEST_REDIS_PORT", str(free_port()))
os.environ["BOOTSTRAP_SERVERS"] = f"127.0.0.1:{os.environ['ATLAS_TEST_KAFKA_PORT']}"
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{os.environ['ATLAS_TEST_REDIS_PORT']}/0"

from project.settings import *  # noqa: F403

# A test database of this run's own: several test runs (and the processes they
# start, which receive DATABASE_URL) may share one checkout.
if "sqlite" in DATABASES["default"]["ENGINE"]:  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"atlas-test-{os.getpid()}.sqlite3")
    }
