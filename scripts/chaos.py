"""Chaos run: kill -9 a random process every few seconds, and flap Redis, under load.

    .venv/bin/python scripts/chaos.py [--messages 3000] [--keys 50] [--rate 100]
                                      [--kill-every 3] [--redis-every 15] [--seed N]

Starts its own broker, Redis, worker, beat, bridge and relay on a fresh database
(SQLite in a temp directory, or DATABASE_URL), produces PING commands of the
test-only echo app at a steady rate, and meanwhile SIGKILLs one of bridge, worker,
relay or beat at random every ``--kill-every`` seconds (restarting it a moment
later, as a supervisor would) and stops Redis for 2 to 4 s every ``--redis-every``
seconds. Processes that die on their own are restarted too, and counted. When the
load and the chaos are over it waits for the pipeline to drain, then prints what
was expected against what happened: effects missing, effects applied twice, keys
applied out of order, PONG events missing, and duplicate deliveries (allowed: the
relay publishes at least once).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import produce  # noqa: E402 - after the path is set


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--kill-every", type=float, default=3.0)
    parser.add_argument("--redis-every", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    workdir = Path(tempfile.mkdtemp(prefix="atlas-chaos-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'chaos.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["ATLAS_DATA_DIR"] = str(workdir / "data")
    import django

    django.setup()
    from django.core.management import call_command

    from project.messaging import kafka, registry, wire
    from project.messaging.models import OutboxMessage
    from project.tenancy import TenantKey
    from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
    from tests.echo.models import Effect
    from tests.stack import Stack, wait_for_log

    call_command("migrate", verbosity=0)
    stack = Stack(workdir, os.environ["DATABASE_URL"], "tests.settings")
    names = ["bridge", "worker", "relay", "beat"]
    kills = collections.Counter()
    own_deaths = collections.Counter()
    redis_outages = 0
    stop = threading.Event()
    try:
        stack.start_infrastructure()
        from django.conf import settings

        settings.BOOTSTRAP_SERVERS = [stack.bootstrap]
        kafka.ensure_topics(registry.all_topics())
        for name in names:
            stack[name].start()
        wait_for_log(stack["relay"], "relay is the leader", timeout=60)
        wait_for_log(stack["bridge"], "subscribed to", timeout=60)

        tenant = TenantKey(uuid.uuid4(), "GMS", 83, 1)
        pongs: collections.Counter = collections.Counter()
        reader = threading.Thread(
            target=_read_pongs,
            args=(stack.bootstrap, wire.topic_name(EVENT_TOPIC_ECHO), pongs, stop),
        )
        reader.start()

        def chaos() -> None:
            nonlocal redis_outages
            next_redis = time.monotonic() + args.redis_every
            while not stop.wait(args.kill_every * rng.uniform(0.5, 1.5)):
                victim = rng.choice(names)
                stack[victim].kill()
                kills[victim] += 1
                time.sleep(rng.uniform(0.2, 1.0))
                stack[victim].start()
                for name in names:  # a supervisor restarts what died on its own
                    if not stack[name].alive and name != victim:
                        own_deaths[name] += 1
                        stack[name].start()
                if time.monotonic() > next_redis:
                    stack.stop_redis()
                    time.sleep(rng.uniform(2, 4))
                    stack.start_redis()
                    redis_outages += 1
                    next_redis = time.monotonic() + args.redis_every

        values = []
        for i in range(args.messages):
            key_id = 1 + i % args.keys
            body = {"transactionId": str(uuid.uuid4()), "type": "PING",
                    "body": {"id": key_id, "seq": i}}  # fmt: skip
            values.append((i, wire.key_u32(key_id), json.dumps(body).encode()))
        chaos_thread = threading.Thread(target=chaos)
        began = time.monotonic()
        chaos_thread.start()
        produce(stack.bootstrap, wire.topic_name(COMMAND_TOPIC_ECHO), values,
                tenant.kafka_headers(), {}, args.rate)  # fmt: skip
        stop.set()
        chaos_thread.join()
        chaos_seconds = time.monotonic() - began
        for name in names:
            if not stack[name].alive:
                own_deaths[name] += 1
                stack[name].start()

        # Drain: every effect, and every outbox row sent (or a deadline).
        def effects() -> list[tuple[int, int]]:
            rows = Effect.objects.filter(tenant__uuid=tenant.id).order_by("id")
            return list(rows.values_list("key_id", "seq"))

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = len(set(effects())) >= args.messages
            unsent = OutboxMessage.objects.filter(sent_at=None, parked_at=None).exists()
            if done and not unsent and sum(1 for s in pongs if s >= 0) >= args.messages:
                break
            time.sleep(1)
        seen = effects()
        counts = collections.Counter(seq for _, seq in seen)
        missing = [i for i in range(args.messages) if counts[i] == 0]
        twice = [i for i, n in counts.items() if n > 1]
        out_of_order = 0
        last: dict[int, int] = {}
        for key_id, seq in seen:
            if seq < last.get(key_id, -1):
                out_of_order += 1
            last[key_id] = seq
        pong_missing = [i for i in range(args.messages) if pongs[i] == 0]
        redelivered = sum(n - 1 for n in pongs.values() if n > 1)
        print(
            f"chaos for {chaos_seconds:.0f} s: {sum(kills.values())} kills {dict(kills)}, "
            f"{redis_outages} Redis outages, died on their own: {dict(own_deaths) or 'none'}"
        )
        print(
            f"commands sent {args.messages}; effects expected {args.messages}, "
            f"observed {len(seen)} ({len(counts)} distinct)"
        )
        print(
            f"missing effects {len(missing)}, applied twice {len(twice)}, "
            f"applied out of order {out_of_order}"
        )
        print(f"PONG events missing {len(pong_missing)}, duplicate deliveries {redelivered}")
        return 0 if not (missing or twice or out_of_order or pong_missing) else 1
    finally:
        stop.set()
        stack.close()


def _read_pongs(bootstrap: str, topic: str, pongs: collections.Counter, stop) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    idle_since = None
    while True:
        batch = consumer.poll(timeout_ms=200)
        for records in batch.values():
            for record in records:
                pongs[json.loads(record.value)["seq"]] += 1
        if stop.is_set():
            idle_since = idle_since or time.monotonic()
            if batch:
                idle_since = time.monotonic()
            if time.monotonic() - idle_since > 30:
                break
    consumer.close()


if __name__ == "__main__":
    sys.exit(main())
