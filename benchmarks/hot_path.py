"""CPU per step of one message, in one process, with nothing else running.

    .venv/bin/python -m benchmarks.hot_path [--messages 2000] [--batch 1]

The pipeline benchmark says what a message costs each process; this one says
which step it goes to, reproducibly (no broker timing, no other process on the
CPU). On a fresh database (SQLite in a temp dir unless DATABASE_URL is set) and a
private Redis, it runs each step of the path for N PING commands of the test-only
echo app, in batches as the bridge would see them at a modest rate, and prints
the CPU milliseconds per message of each step:

- store: the bridge's decode and insert of a polled batch (``bridge.store``);
- enqueue: the tasks sent for the batch (``inbox.enqueue``: key flags + Celery);
- handle: a worker draining the batch's keys (``inbox.process_keys``), the
  handler and its outbox row included, without Celery's own machinery;
- relay: reading, producing (to a real embedded broker) and marking the rows.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1, help="records per polled batch")
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print each step's top functions (cProfile, CPU time)",
    )
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # as the pipeline benchmark's processes

    workdir = Path(tempfile.mkdtemp(prefix="atlas-hot-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'hot.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["ATLAS_DATA_DIR"] = str(workdir / "data")
    import django

    django.setup()
    from django.core.management import call_command

    from project import embedded

    call_command("migrate", verbosity=0)
    from django.conf import settings

    redis = embedded.start(
        embedded.redis_command(int(os.environ["ATLAS_TEST_REDIS_PORT"]), workdir / "redis"),
        port=int(os.environ["ATLAS_TEST_REDIS_PORT"]),
    )
    kafka_port = int(os.environ["ATLAS_TEST_KAFKA_PORT"])
    broker = embedded.start(embedded.kafka_command(kafka_port), port=kafka_port)
    try:
        from kafka.consumer.fetcher import ConsumerRecord

        from project.messaging import bridge, epochs, inbox, kafka, registry, wire
        from project.messaging.models import InboxMessage
        from project.messaging.relay import Relay
        from project.tenancy import TenantKey
        from tests.echo.handlers import COMMAND_TOPIC_ECHO

        settings.BOOTSTRAP_SERVERS = [f"127.0.0.1:{kafka_port}"]
        kafka.ensure_topics(registry.all_topics())
        spec = registry.consumers()["echo"]
        tenant = TenantKey(uuid.uuid4(), "GMS", 83, 1)
        headers = [(name, value) for name, value in tenant.kafka_headers()]
        topic = wire.topic_name(COMMAND_TOPIC_ECHO)

        def record(offset: int) -> ConsumerRecord:
            key_id = 1 + offset % args.keys
            value = json.dumps(
                {
                    "transactionId": str(uuid.uuid4()),
                    "type": "PING",
                    "body": {"id": key_id, "seq": offset},
                }
            ).encode()
            return ConsumerRecord(
                topic, 0, 0, offset, int(time.time() * 1000), 0, key_id.to_bytes(4, "big"),
                value, headers, None, len(key_id.to_bytes(4, "big")), len(value), -1,
            )  # fmt: skip

        # Warm up every code path (imports, caches, the tenant row).
        ids = bridge.store(spec, [record(i) for i in range(20)])
        inbox.process_keys(ids)
        from project.messaging.models import OutboxMessage

        OutboxMessage.objects.update(sent_at=django.utils.timezone.now())

        batches = [
            [record(20 + i + j) for j in range(args.batch)]
            for i in range(0, args.messages, args.batch)
        ]
        cost = dict.fromkeys(("store", "enqueue", "handle", "relay"), 0.0)
        relay = Relay(stop=None)
        positions = epochs.Positions()
        producer = kafka.producer()
        from project.messaging import coordination

        profiles = {step: cProfile.Profile(time.process_time) for step in cost}

        def step(name: str, func):
            started = time.process_time()
            if args.profile:
                profiles[name].enable()
            result = func()
            if args.profile:
                profiles[name].disable()
            cost[name] += time.process_time() - started
            return result

        def handle(ids):
            coordination.release_keys(key for _, key in ids)
            inbox.process_keys(ids)

        def publish():
            rows = list(
                OutboxMessage.objects.filter(sent_at=None, parked_at=None)
                .order_by("id")
                .only("id", "topic", "key", "value", "headers")
            )
            relay._publish(producer, rows)

        for batch in batches:
            ids = step("store", lambda batch=batch: bridge.store(spec, batch, positions))
            step("enqueue", lambda ids=ids: inbox.enqueue(ids))
            step("handle", lambda ids=ids: handle(ids))
            step("relay", publish)
        producer.close()
        count = len(batches) * args.batch
        handled = InboxMessage.objects.filter(state=InboxMessage.State.DONE).count()
        assert handled == count + 20, (handled, count)
        print(
            f"{count} messages in batches of {args.batch}, "
            f"database {settings.DATABASES['default']['ENGINE']}; CPU ms per message:"
        )
        for step, seconds in cost.items():
            print(f"  {step:>8} {seconds * 1000 / count:6.3f}")
        print(f"  {'total':>8} {sum(cost.values()) * 1000 / count:6.3f}")
        if args.profile:
            for name, profile in profiles.items():
                print(f"\n== {name}")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    finally:
        broker.kill()
        redis.kill()


if __name__ == "__main__":
    main()
