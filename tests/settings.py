"""Settings for the test suite: the project's settings plus the test-only echo app."""

import os

os.environ.setdefault("ATLAS_EXTRA_APPS", "tests.echo")
# A development key, chosen here as bin/stack chooses its own; the processes the
# tests start inherit it (a process started without one refuses, as in production).
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-insecure-key-" + "x" * 40)
os.environ.setdefault("INVITE_SWEEP_SECONDS", "1")
os.environ.setdefault("INBOX_SWEEP_SECONDS", "1")
os.environ.setdefault("INBOX_STALE_SECONDS", "3")
os.environ.setdefault("INBOX_RETRY_BASE_SECONDS", "0.2")
os.environ.setdefault("OUTBOX_SWEEP_SECONDS", "1")

# The broker and Redis of this test run listen on ports chosen here, once, so the
# test process and every process it starts agree on them from the start. The broker
# is Tansu, or Apache Kafka with ATLAS_TEST_BROKER=kafka (bin/test --kafka), which
# gets the partition count an operator's topics have.
from project.embedded import BROKERS, free_port

if os.environ.setdefault("ATLAS_TEST_BROKER", "tansu") not in BROKERS:
    raise RuntimeError(f"ATLAS_TEST_BROKER must be one of {', '.join(BROKERS)}")
if os.environ["ATLAS_TEST_BROKER"] == "kafka":
    from project.apache_kafka import PARTITIONS

    os.environ.setdefault("KAFKA_TOPIC_PARTITIONS", str(PARTITIONS))

os.environ.setdefault("ATLAS_TEST_KAFKA_PORT", str(free_port()))
os.environ.setdefault("ATLAS_TEST_REDIS_PORT", str(free_port()))
# A test's own cluster of several brokers gives its processes the whole list.
os.environ["BOOTSTRAP_SERVERS"] = (
    os.environ.get("ATLAS_TEST_BOOTSTRAP_SERVERS")
    or f"127.0.0.1:{os.environ['ATLAS_TEST_KAFKA_PORT']}"
)
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{os.environ['ATLAS_TEST_REDIS_PORT']}/0"

# SQLite unless the run names a database (bin/test --postgres sets DATABASE_URL),
# chosen here for this process only: the processes a test starts are given the test
# database's URL, and a child started without one must refuse as in production.
_sqlite_chosen = not (os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"))
if _sqlite_chosen:
    import tempfile

    os.environ["DATABASE_URL"] = "sqlite:///" + os.path.join(tempfile.gettempdir(), "atlas.sqlite3")

from project.settings import *  # noqa: E402, F403

if _sqlite_chosen:
    del os.environ["DATABASE_URL"]

# A test database of this run's own: several test runs (and the processes they
# start, which receive DATABASE_URL) may share one checkout.
if "sqlite" in DATABASES["default"]["ENGINE"]:  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"atlas-test-{os.getpid()}.sqlite3")
    }
