"""Throughput and latency of the whole pipeline, next to raw kafka-python.

    .venv/bin/python -m benchmarks.pipeline [--broker tansu|kafka] [--messages 6000]
                                            [--rate 200] [--keys 100]
    .venv/bin/python -m benchmarks.pipeline --rate 0      # all at once: throughput

Starts its own broker (Tansu, or a local Apache Kafka node with ``--broker kafka``,
topics of 3 partitions), Redis, worker, bridge and relay on a fresh database
(SQLite in a temp dir unless DATABASE_URL is set), drives N PING commands of the
test-only echo subscription through Kafka → bridge → inbox → worker → outbox →
relay → Kafka, and measures from produce to the PONG being received. In the same
run it measures a raw baseline: one kafka-python process consuming the same
number of records and re-producing each with no processing, with the bridge's
consumer and the relay's producer settings (``kafka.consumer``/``kafka.producer``),
so both paths have the same two consumer hops. Prints messages/s, latency
percentiles and CPU milliseconds per message for both.
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
    from django.conf import settings
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.KAFKA_FETCH_MAX_WAIT_MS,
    )
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
                ident = decode(record)
                if ident is not None:
                    received.setdefault(ident, now)
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
import time
import django
django.setup()
from django.conf import settings
from project.messaging import kafka
bootstrap, source, target, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings.BOOTSTRAP_SERVERS = [bootstrap]
consumer = kafka.consumer("raw-forwarder")
consumer.subscribe([source])
fetch_wait = kafka.FetchWait(consumer)  # as the bridge: the short wait while records flow
producer = kafka.producer()
print("ready", flush=True)
seen = 0
committed = time.monotonic()
while seen < count:
    batches = consumer.poll(timeout_ms=200)
    fetch_wait.polled(bool(batches))
    for batch in batches.values():
        for record in batch:
            producer.send(target, key=record.key, value=record.value, headers=record.headers)
            seen += 1
    producer.flush()
    if time.monotonic() - committed > settings.KAFKA_COMMIT_INTERVAL_MS / 1000:
        consumer.commit()  # as the bridge: at most once per commit interval
        committed = time.monotonic()
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
    parser.add_argument(
        "--broker", choices=("tansu", "kafka"), default="tansu", help="the broker to run on"
    )
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument(
        "--warmup",
        type=int,
        default=2000,
        help="messages through each path at the offered rate before it is measured "
        "(a new broker's JVM compiles its hot code in its first minute)",
    )
    parser.add_argument("--workers", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument("--pool", default=None, help="Celery worker pool (default: the stack's)")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="offered rate, msg/s (0: all at once)"
    )
    parser.add_argument(
        "--bridge-apps",
        default=None,
        help="consume only for these apps (e.g. echo): what the other, idle consumers cost",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="sample bridge, worker and relay with py-spy during the measured run and "
        "write their collapsed stacks and top functions to this folder",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["ATLAS_TEST_BROKER"] = args.broker  # tests.settings: partitions; Stack: broker
    os.environ["ATLAS_DATA_DIR"] = str(workdir / "data")
    import django

    django.setup()
    from django.core.management import call_command

    from project.messaging import kafka, registry, wire
    from project.tenancy import TenantKey
    from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
    from tests.stack import Stack, wait_for_log

    call_command("migrate", verbosity=0)
    stack = Stack(workdir, os.environ["DATABASE_URL"], "tests.settings", broker=args.broker)
    worker = stack["worker"]
    worker.command[worker.command.index("-c") + 1] = str(args.workers)
    if args.pool:
        worker.command[worker.command.index("-P") + 1] = args.pool
    worker.command[worker.command.index("-l") + 1] = os.environ.get("BENCH_WORKER_LOG", "warning")
    if args.bridge_apps:
        stack["bridge"].command += ["--apps", args.bridge_apps]
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

        # Warm up: the bridge's group join (about half the session timeout on Tansu),
        # the broker's JIT, the processes' caches.
        _run(
            stack.bootstrap,
            wire.topic_name(COMMAND_TOPIC_ECHO),
            wire.topic_name(EVENT_TOPIC_ECHO),
            args.warmup,
            args.keys,
            headers,
            args.rate,
            "warm-up",
            quiet=True,
        )

        print(
            f"{args.messages} messages over {args.keys} keys, {args.workers} worker processes, "
            f"database {settings.DATABASES['default']['ENGINE']}, broker {args.broker} "
            f"({settings.KAFKA_TOPIC_PARTITIONS} partition(s) a topic)"
        )
        names = ("bridge", "worker", "relay")
        before = {n: cpu_seconds(stack[n].popen.pid) for n in names}
        broker_before = sum(cpu_seconds(pid) for pid in stack.broker.pids)
        profilers = _start_profilers(stack, names, args.profile) if args.profile else []
        from django.utils import timezone

        pipeline_started = timezone.now()
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
        used["broker"] = sum(cpu_seconds(pid) for pid in stack.broker.pids) - broker_before
        _stop_profilers(profilers)
        _stages(pipeline_started)
        print(
            "  CPU ms per message: "
            + ", ".join(f"{n} {used[n] * 1000 / args.messages:.2f}" for n in (*names, "broker"))
        )

        forwarder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                RAW_FORWARDER,
                stack.bootstrap,
                "BENCH_RAW_IN",
                "BENCH_RAW_OUT",
                str(args.messages + args.warmup),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )
        assert forwarder.stdout.readline().strip() == "ready"
        _run(
            stack.bootstrap,
            "BENCH_RAW_IN",
            "BENCH_RAW_OUT",
            args.warmup,
            args.keys,
            headers,
            args.rate,
            "warm-up",
            quiet=True,
        )
        raw_before = cpu_seconds(forwarder.pid)
        raw_broker_before = sum(cpu_seconds(pid) for pid in stack.broker.pids)
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
        raw_used = cpu_seconds(forwarder.pid) - raw_before
        raw_broker = sum(cpu_seconds(pid) for pid in stack.broker.pids) - raw_broker_before
        print(
            f"  CPU ms per message: forwarder {raw_used * 1000 / args.messages:.2f}, "
            f"broker {raw_broker * 1000 / args.messages:.2f}"
        )
        forwarder.wait(60)
        print(
            f"pipeline / raw throughput: {pipeline['rate'] / raw['rate']:.2f}; "
            f"p99: {pipeline['p99'] / raw['p99']:.2f}"
        )
    finally:
        stack.close()


def _stages(since) -> None:
    """Where the time goes between the two Kafka hops, from the rows' timestamps."""
    from project.messaging.models import InboxMessage, OutboxMessage

    def line(name: str, pairs) -> str:
        spans = [(end - start).total_seconds() * 1000 for start, end in pairs if end and start]
        if not spans:
            return f"{name} -"
        return (
            f"{name} p50 {percentile(spans, 50):.1f} p95 {percentile(spans, 95):.1f} "
            f"p99 {percentile(spans, 99):.1f}"
        )

    inbox = InboxMessage.objects.filter(app="echo", created_at__gte=since)
    outbox = OutboxMessage.objects.filter(created_at__gte=since)
    print(
        "  stages ms: "
        + line("stored → handled", inbox.values_list("created_at", "handled_at"))
        + " | "
        + line("outbox row → sent", outbox.values_list("created_at", "sent_at"))
    )


def _start_profilers(stack, names, folder: Path) -> list:
    """py-spy (``pip install py-spy``) on each process and its children, idle frames left out."""
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [
        (
            name,
            folder / f"{name}.txt",
            subprocess.Popen(
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(stack[name].popen.pid),
                    "--subprocesses",
                    "--gil",
                    "--format",
                    "raw",
                    "--rate",
                    "100",
                    "--output",
                    str(folder / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        )
        for name in names
    ]


def _stop_profilers(profilers: list) -> None:
    import signal
    from collections import Counter

    for _, _, spy in profilers:
        spy.send_signal(signal.SIGINT)
    for name, path, spy in profilers:
        spy.wait(60)
        inclusive: Counter = Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = {
                f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
                for f in stack.split(";")[1:]
            }
            total += int(count)
            for frame in frames:
                inclusive[frame] += int(count)
        top = "\n".join(
            f"  {count * 100 / total:5.1f}%  {frame}" for frame, count in inclusive.most_common(60)
        )
        (path.with_suffix(".top")).write_text(f"{total} samples\n{top}\n")
        print(f"  profile of {name}: {path.with_suffix('.top')}")


def _run(bootstrap, source, target, count, keys, headers, rate, name, quiet=False) -> dict:
    values = []
    for i in range(count):
        key_id = 1 + i % keys
        ident = str(uuid.uuid4())
        body = {
            "transactionId": ident,
            "type": "PING",
            "body": {"id": key_id, "seq": i},
        }
        values.append((ident, key_id.to_bytes(4, "little") + b"\0" * 4, json.dumps(body).encode()))

    ours = {ident for ident, _, _ in values}

    def decode(record) -> str | None:
        """This run's message that a PONG (or a forwarded PING) answers; None for another's."""
        ident = json.loads(record.value).get("transactionId")
        return ident if ident in ours else None

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
    if quiet:
        return {}
    return report(name, count, sent, received)


if __name__ == "__main__":
    main()
