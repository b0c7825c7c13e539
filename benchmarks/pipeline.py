"""Throughput and latency of the whole pipeline, next to raw kafka-python.

    .venv/bin/python -m benchmarks.pipeline [--messages 5000] [--keys 100] [--workers 2]

Starts its own broker, Redis, worker, bridge and relay on a fresh database
(SQLite in a temp dir unless DATABASE_URL is set), drives N PING commands of the
test-only echo subscription through Kafka → bridge → inbox → worker → outbox →
relay → Kafka, and measures from produce to the PONG being received. In the same
run it measures a raw baseline: one kafka-python process consuming the same
number of records and re-producing each with no processing. Prints messages/s
and latency percentiles for both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, count: int, sent: dict, received: dict) -> dict:
    latencies = [(received[k] - sent[k]) * 1000 for k in received if k in sent]
    span = max(received.values()) - min(sent.values())
    result = {
        "name": name,
        "messages": count,
        "received": len(received),
        "rate": len(received) / span if span > 0 else 0.0,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "mean": statistics.fmean(latencies),
    }
    print(
        f"{name:>9}: {result['received']}/{count} msgs in {span:6.2f} s = "
        f"{result['rate']:8.0f} msg/s | latency ms p50 {result['p50']:7.1f} "
        f"p95 {result['p95']:7.1f} p99 {result['p99']:7.1f}"
    )
    return result


def collect(
    bootstrap: str, topic: str, expected: int, received: dict, ready: threading.Event, decode
) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_end(*partitions)
    for tp in partitions:
        consumer.position(tp)
    ready.set()
    deadline = time.monotonic() + 600
    while len(received) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            now = time.monotonic()
            for record in batch:
                received.setdefault(decode(record), now)
    consumer.close()


def produce(
    bootstrap: str,
    topic: str,
    values: list[tuple[object, bytes, bytes]],
    headers,
    sent: dict,
    rate: float | None,
) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=1)
    start = time.monotonic()
    for i, (ident, key, value) in enumerate(values):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent[ident] = time.monotonic()
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()


RAW_FORWARDER = """
import sys
from kafka import KafkaConsumer, KafkaProducer
bootstrap, source, target, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
consumer = KafkaConsumer(source, bootstrap_servers=bootstrap, group_id="raw-forwarder",
    enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=6000,
    heartbeat_interval_ms=1000, max_poll_records=500)
producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2,
    max_in_flight_requests_per_connection=1, enable_idempotence=False)
print("ready", flush=True)
seen = 0
while seen < count:
    for batch in consumer.poll(timeout_ms=200).values():
        for record in batch:
            producer.send(target, key=record.key, value=record.value, headers=record.headers)
            seen += 1
    producer.flush()
    consumer.commit()
"""


def cpu_seconds(pgid: int) -> float:
    """CPU time used so far by every live process of a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp) counted after the command name
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument("--rate", type=float, default=None, help="produce rate limit, msg/s")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["ATLAS_DATA_DIR"] = str(workdir / "data")
    import django

    django.setup()
    from django.core.management import call_command

    from project.messaging import kafka, registry, wire
    from project.tenancy import TenantKey
    from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
    from tests.stack import Stack, wait_for_log

    call_command("migrate", verbosity=0)
    stack = Stack(workdir, os.environ["DATABASE_URL"], "tests.settings")
    worker = stack["worker"]
    worker.command[worker.command.index("-c") + 1] = str(args.workers)
    worker.command[worker.command.index("-l") + 1] = os.environ.get("BENCH_WORKER_LOG", "warning")
    try:
        stack.start_infrastructure()
        from django.conf import settings

        settings.BOOTSTRAP_SERVERS = [stack.bootstrap]
        kafka.ensure_topics(registry.all_topics() | {"BENCH_RAW_IN", "BENCH_RAW_OUT"})
        for name in ("worker", "bridge", "relay"):
            stack[name].start()
        wait_for_log(stack["relay"], "relay is the leader", timeout=60)
        tenant = TenantKey(uuid.uuid4(), "GMS", 83, 1)
        headers = tenant.kafka_headers()

        # Warm up: the bridge's group join (about half the session timeout on Tansu).
        _run(
            stack.bootstrap,
            wire.topic_name(COMMAND_TOPIC_ECHO),
            wire.topic_name(EVENT_TOPIC_ECHO),
            20,
            args.keys,
            headers,
            None,
            "warm-up",
            quiet=True,
        )

        print(
            f"{args.messages} messages over {args.keys} keys, "
            f"{args.workers} worker processes, database {settings.DATABASES['default']['ENGINE']}"
        )
        names = ("bridge", "worker", "relay")
        before = {n: cpu_seconds(stack[n].popen.pid) for n in names}
        pipeline = _run(
            stack.bootstrap,
            wire.topic_name(COMMAND_TOPIC_ECHO),
            wire.topic_name(EVENT_TOPIC_ECHO),
            args.messages,
            args.keys,
            headers,
            args.rate,
            "pipeline",
        )
        used = {n: cpu_seconds(stack[n].popen.pid) - before[n] for n in names}
        print(
            "  CPU ms per message: "
            + ", ".join(f"{n} {used[n] * 1000 / args.messages:.2f}" for n in names)
        )

        forwarder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                RAW_FORWARDER,
                stack.bootstrap,
                "BENCH_RAW_IN",
                "BENCH_RAW_OUT",
                str(args.messages + 20),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert forwarder.stdout.readline().strip() == "ready"
        _run(
            stack.bootstrap,
            "BENCH_RAW_IN",
            "BENCH_RAW_OUT",
            20,
            args.keys,
            headers,
            None,
            "warm-up",
            quiet=True,
        )
        raw = _run(
            stack.bootstrap,
            "BENCH_RAW_IN",
            "BENCH_RAW_OUT",
            args.messages,
            args.keys,
            headers,
            args.rate,
            "raw",
        )
        forwarder.wait(60)
        print(f"pipeline / raw throughput: {pipeline['rate'] / raw['rate']:.2f}")
    finally:
        stack.close()


def _run(bootstrap, source, target, count, keys, headers, rate, name, quiet=False) -> dict:
    run_id = uuid.uuid4().hex[:8]
    values = []
    for i in range(count):
        key_id = 1 + i % keys
        ident = (run_id, i)
        body = {
            "transactionId": str(uuid.uuid4()),
            "type": "PING",
            "body": {"id": key_id, "seq": i},
            "run": run_id,
        }
        values.append((ident, key_id.to_bytes(4, "little") + b"\0" * 4, json.dumps(body).encode()))

    def decode(record) -> tuple:
        value = json.loads(record.value)
        seq = value["seq"] if "seq" in value else value["body"]["seq"]  # PONG or forwarded PING
        return (value.get("run", run_id), seq)

    sent: dict = {}
    received: dict = {}
    ready = threading.Event()
    reader = threading.Thread(
        target=collect, args=(bootstrap, target, count, received, ready, decode)
    )
    reader.start()
    ready.wait(30)
    produce(bootstrap, source, values, headers, sent, rate)
    reader.join()
    received = {k: v for k, v in received.items() if k[0] == run_id}
    if quiet:
        return {}
    return report(name, count, sent, received)


if __name__ == "__main__":
    main()
