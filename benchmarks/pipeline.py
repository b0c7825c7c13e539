"""Throughput and latency of the whole pipeline, next to raw kafka-python and, when
given its command, the Go service it replaces.

    .venv/bin/python -m benchmarks.pipeline [--broker tansu|kafka] [--messages 6000]
                                            [--rate 200] [--keys 100] [--service echo|notes]
    .venv/bin/python -m benchmarks.pipeline --rate 0      # all at once: throughput
    scripts/throwaway_postgres.py -- .venv/bin/python -m benchmarks.pipeline --broker kafka \\
        --service notes --service-command /path/to/atlas-notes   # beside the Go service

Starts its own broker (Tansu, or a local Apache Kafka node with ``--broker kafka``,
topics of 3 partitions), Redis, worker, bridge and relay on a fresh database
(SQLite in a temp dir unless DATABASE_URL is set) and drives N commands through
Kafka → bridge → inbox → worker → outbox → relay → Kafka, measuring from produce to
the answering event being received: PING → PONG of the test-only echo app, or with
``--service notes`` the notes CREATE command (the real wire format, tenant headers)
→ its CREATED status event, with only notes deployed (``ATLAS_SERVICES=notes``).

``--service-command`` names the command that starts another service handling the
same notes commands (upstream's ``atlas-notes``, built by hand; nothing of it is
part of this repository). After our processes are measured and stopped it is
started with the environment upstream's services read (``BOOTSTRAP_SERVERS``, the
``DB_*`` settings of a database of its own in the same PostgreSQL cluster, topic
variables naming topics of its own, ``REST_PORT``), warmed up and measured with the
same load. ``--busy-core`` keeps one core busy with a spinning process through the
whole run: the same figures when the cores are shared.

In the same run it measures a raw baseline: one kafka-python process consuming the
same records and re-producing each with no processing, with the bridge's consumer
and the relay's producer settings (``kafka.consumer``/``kafka.producer``), so every
path has the same two consumer hops. Prints messages/s, latency percentiles and CPU
milliseconds per message of every process: the path's own, the broker's,
PostgreSQL's (its postmaster and every backend), the load generator's (this
process: producer and collector) and the whole machine's (``/proc/stat``, whatever
else runs on it included); ``--json`` writes the same figures to a file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The Go service's topics: its own, so that it never reads what our pipeline consumed.
SERVICE_TOPICS = {
    "COMMAND_TOPIC_NOTE": "BENCH_SERVICE_NOTE_COMMAND",
    "EVENT_TOPIC_NOTE_STATUS": "BENCH_SERVICE_NOTE_STATUS",
    "EVENT_TOPIC_CHARACTER_STATUS": "BENCH_SERVICE_CHARACTER_STATUS",
    "COMMAND_TOPIC_SAGA": "BENCH_SERVICE_SAGA_COMMAND",
}
SERVICE_DATABASE = "bench_service"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, count: int, sent: dict, received: dict) -> dict:
    latencies = [(received[k] - sent[k]) * 1000 for k in received if k in sent]
    span = max(received.values()) - min(sent.values()) if received else 0.0
    result = {
        "name": name,
        "messages": count,
        "received": len(received),
        "rate": len(received) / span if span > 0 else 0.0,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "mean": statistics.fmean(latencies) if latencies else math.nan,
    }
    print(
        f"{name:>9}: {result['received']}/{count} msgs in {span:6.2f} s = "
        f"{result['rate']:8.0f} msg/s | latency ms p50 {result['p50']:7.1f} "
        f"p95 {result['p95']:7.1f} p99 {result['p99']:7.1f}"
    )
    return result


# --- CPU time -------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, float]]:
    """Every live process: its parent, its process group and the CPU seconds it and
    its reaped children used (so a backend or pool child that exits mid-run still
    counts, in its parent's share)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command name: state ppid pgrp ... utime(11) stime cutime cstime(14)
        seconds = sum(int(f) for f in fields[11:15]) / ticks
        table[int(entry)] = (int(fields[1]), int(fields[2]), seconds)
    return table


def cpu_seconds(pgid: int, table: dict | None = None) -> float:
    """CPU time used so far by every process of a process group."""
    table = _processes() if table is None else table
    return sum(seconds for _, group, seconds in table.values() if group == pgid)


def tree_cpu_seconds(root: int, table: dict) -> float:
    """CPU time used so far by a process and all its descendants (PostgreSQL's
    postmaster and backends, which do not share one process group with a known pid)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += table[pid][2]
            todo.extend(children.get(pid, ()))
    return total


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent not idle (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU seconds of every part of a run, read at one moment: process groups by
    name, PostgreSQL's process tree, this process (the load generator) and the machine."""

    def __init__(self) -> None:
        self.groups: dict[str, list[int]] = {}
        self.postgres: int | None = None

    def read(self) -> dict[str, float]:
        table = _processes()
        seconds = {
            name: sum(cpu_seconds(pgid, table) for pgid in pgids)
            for name, pgids in self.groups.items()
        }
        if self.postgres is not None:
            seconds["postgres"] = tree_cpu_seconds(self.postgres, table)
        seconds["load generator"] = time.process_time()
        seconds["machine"] = machine_busy_seconds()
        return seconds


def postmaster_pid() -> int | None:
    """The PostgreSQL server's main process, the parent of this connection's backend."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None  # a server on another machine: its CPU is not this machine's


# --- load and collection --------------------------------------------------------------


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
    # Give up after a minute without an answer (a path that died or fell silent):
    # the report then says how many of the messages came back.
    last = time.monotonic()
    while len(received) < expected and time.monotonic() - last < 60:
        for batch in consumer.poll(timeout_ms=100).values():
            now = time.monotonic()
            for record in batch:
                ident = decode(record)
                if ident is not None and ident not in received:
                    received[ident] = now
                    last = now
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


def commands(service: str, count: int, keys: int) -> list[tuple[str, bytes, bytes]]:
    """``count`` commands over ``keys`` keys, each with a transaction id of its own
    that the answering event carries back: PINGs of the echo app, or notes CREATEs
    (to characters 1..keys, keyed by the character as the channel servers do)."""
    from project.messaging import wire

    values = []
    for i in range(count):
        key_id = 1 + i % keys
        ident = str(uuid.uuid4())
        if service == "notes":
            body = {
                "transactionId": ident,
                "worldId": 0,
                "channelId": 1,
                "characterId": key_id,
                "type": "CREATE",
                "body": {"senderId": 100_000 + i % 1000, "message": f"bench {i}", "flag": 0},
            }
        else:
            body = {"transactionId": ident, "type": "PING", "body": {"id": key_id, "seq": i}}
        values.append((ident, wire.key_u32(key_id), json.dumps(body).encode()))
    return values


def run_load(bootstrap, source, target, values, headers, rate, name, quiet=False) -> dict:
    ours = {ident for ident, _, _ in values}

    def decode(record) -> str | None:
        """This run's command that an event (or a forwarded command) answers; None
        for another's."""
        ident = json.loads(record.value).get("transactionId")
        return ident if ident in ours else None

    sent: dict = {}
    received: dict = {}
    ready = threading.Event()
    reader = threading.Thread(
        target=collect, args=(bootstrap, target, len(values), received, ready, decode)
    )
    reader.start()
    ready.wait(30)
    produce(bootstrap, source, values, headers, sent, rate)
    reader.join()
    if quiet:
        return {}
    return report(name, len(values), sent, received)


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


# --- one measured path ------------------------------------------------------------------


@dataclass
class Measured:
    """One path under test: the topics it reads and answers on, its own process groups."""

    name: str
    source: str
    target: str
    own: list[str]


def warm_up(path: Measured, args, bootstrap: str, headers) -> None:
    """The broker's JIT, the consumers' group joins, the processes' caches."""
    values = commands(args.service, args.warmup, args.keys)
    run_load(bootstrap, path.source, path.target, values, headers, args.rate, "", quiet=True)


def measure(path: Measured, meter: Meter, args, bootstrap: str, headers) -> dict:
    """Run the measured load and read every CPU meter around it."""
    values = commands(args.service, args.messages, args.keys)
    before = meter.read()
    result = run_load(bootstrap, path.source, path.target, values, headers, args.rate, path.name)
    after = meter.read()
    result["cpu_ms_per_message"] = {
        name: (after[name] - before[name]) * 1000 / args.messages for name in after
    }
    result["own"] = path.own
    cpu = result["cpu_ms_per_message"]
    print(
        "  CPU ms per message: "
        + ", ".join(f"{name} {cpu[name]:.2f}" for name in (*path.own, *_shared(cpu)))
    )
    return result


def _shared(cpu: dict) -> list[str]:
    return [n for n in ("broker", "postgres", "load generator", "busy loop", "machine") if n in cpu]


def _stages(app: str, since) -> dict:
    """Where the time goes between the two Kafka hops, from the rows' timestamps."""
    from project.messaging.models import InboxMessage, OutboxMessage

    inbox = InboxMessage.objects.filter(app=app, created_at__gte=since)
    outbox = OutboxMessage.objects.filter(created_at__gte=since)
    stages = {
        "stored → handled": _spans(inbox.values_list("created_at", "handled_at")),
        "outbox row → sent": _spans(outbox.values_list("created_at", "sent_at")),
    }
    _print_stages(stages)
    return stages


def _spans(pairs) -> dict:
    spans = [(end - start).total_seconds() * 1000 for start, end in pairs if end and start]
    return {p: percentile(spans, q) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}


def _print_stages(stages: dict) -> None:
    print(
        "  stages ms: "
        + " | ".join(
            f"{name} p50 {s['p50']:.1f} p95 {s['p95']:.1f} p99 {s['p99']:.1f}"
            for name, s in stages.items()
        )
    )


# --- the Go service -----------------------------------------------------------------


def service_environment(database_url: str, bootstrap: str) -> dict[str, str]:
    """What upstream's services read: the broker, a database of their own in the
    same PostgreSQL cluster (made empty here), their topics, a REST port."""
    import psycopg

    from project.embedded import free_port

    url = urlparse(database_url)
    if url.scheme not in ("postgres", "postgresql"):
        raise SystemExit(
            "--service-command needs PostgreSQL: run under scripts/throwaway_postgres.py"
        )
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SERVICE_DATABASE}")
        admin.execute(f"CREATE DATABASE {SERVICE_DATABASE}")
    return {
        "BOOTSTRAP_SERVERS": bootstrap,
        "DB_HOST": url.hostname or "127.0.0.1",
        "DB_PORT": str(url.port or 5432),
        "DB_USER": url.username or "postgres",
        # Never empty: an empty value would make the DSN's next word the password.
        "DB_PASSWORD": url.password or "unused",
        "DB_NAME": SERVICE_DATABASE,
        "REST_PORT": str(free_port()),
        # No trace collector runs here: sample nothing rather than export into the void.
        "TRACE_SAMPLING_RATIO": "0",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "warn"),
        **SERVICE_TOPICS,
    }


def start_service(command: str, env: dict[str, str], workdir: Path):
    """Start the service under test and wait until its readiness endpoint answers."""
    from tests.stack import Process

    process = Process("service", shlex.split(command), {**os.environ, **env}, workdir)
    process.start()
    ready = f"http://127.0.0.1:{env['REST_PORT']}/api/readyz"
    deadline = time.monotonic() + 90
    while True:
        if not process.alive:
            raise SystemExit(
                f"the service exited ({process.popen.returncode}):\n{process.output()}"
            )
        try:
            with urllib.request.urlopen(ready, timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            process.stop()
            raise SystemExit(f"the service was not ready at {ready} in 90 s:\n{process.output()}")
        time.sleep(0.2)


def service_stages(database_url: str, since) -> dict:
    """outbox row → sent of upstream's drainer, from its ``outbox_entries`` table."""
    import psycopg

    url = urlparse(database_url)._replace(path=f"/{SERVICE_DATABASE}").geturl()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT enqueued_at, sent_at FROM outbox_entries WHERE enqueued_at >= %s", (since,)
        ).fetchall()
    stages = {"outbox row → sent": _spans(rows)}
    _print_stages(stages)
    return stages


# --- the run ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--broker", choices=("tansu", "kafka"), default="tansu", help="the broker to run on"
    )
    parser.add_argument(
        "--service",
        choices=("echo", "notes"),
        default="echo",
        help="the commands: PING of the test-only echo app, or notes CREATE",
    )
    parser.add_argument(
        "--service-command",
        default=None,
        help="with --service notes: the command starting another notes service (upstream's "
        "atlas-notes) to measure after ours, with the environment this benchmark gives it",
    )
    parser.add_argument(
        "--paths",
        default="pipeline,service,raw",
        help="the paths to measure, of pipeline (ours), service (--service-command), raw",
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
        help="consume only for these apps (e.g. echo): what the other, idle consumers cost "
        "(with --service notes: notes, as a deployment of notes alone)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="sample bridge, worker and relay with py-spy during the measured run and "
        "write their collapsed stacks and top functions to this folder",
    )
    parser.add_argument(
        "--busy-core",
        action="store_true",
        help="keep one core busy through the whole run with a process spinning in a loop "
        "(its CPU is shown apart as 'busy loop'; the machine's figure includes it)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    paths = {p.strip() for p in args.paths.split(",") if p.strip()}
    if not args.service_command:
        paths.discard("service")
    elif args.service != "notes":
        parser.error("--service-command measures a notes service: give --service notes")

    workdir = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["ATLAS_TEST_BROKER"] = args.broker  # tests.settings: partitions; Stack: broker
    os.environ["ATLAS_DATA_DIR"] = str(workdir / "data")
    if args.service == "notes":
        os.environ["ATLAS_SERVICES"] = "notes"  # our processes inherit it through the Stack
    import django

    django.setup()
    from django.core.management import call_command

    from notes.messages import COMMAND_TOPIC_NOTE, EVENT_TOPIC_NOTE_STATUS
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
    bridge_apps = args.bridge_apps or ("notes" if args.service == "notes" else None)
    if bridge_apps:
        stack["bridge"].command += ["--apps", bridge_apps]
    if args.service == "notes":
        command_topic, event_topic, app = COMMAND_TOPIC_NOTE, EVENT_TOPIC_NOTE_STATUS, "notes"
    else:
        command_topic, event_topic, app = COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO, "echo"
    results = []
    spinner: subprocess.Popen | None = None
    try:
        stack.start_infrastructure()
        from django.conf import settings
        from django.utils import timezone

        settings.BOOTSTRAP_SERVERS = [stack.bootstrap]
        kafka.ensure_topics(
            registry.all_topics() | {"BENCH_RAW_IN", "BENCH_RAW_OUT"} | set(SERVICE_TOPICS.values())
        )
        headers = TenantKey(uuid.uuid4(), "GMS", 83, 1).kafka_headers()
        meter = Meter()
        meter.groups["broker"] = list(stack.broker.pids)
        meter.postgres = postmaster_pid()
        if args.busy_core:
            spinner = subprocess.Popen(
                [sys.executable, "-c", "while True: pass"], start_new_session=True
            )
            meter.groups["busy loop"] = [spinner.pid]
        print(
            f"{args.messages} {args.service} commands over {args.keys} keys at "
            f"{f'{args.rate:g} msg/s' if args.rate else 'once'}, "
            f"{args.workers} worker processes, "
            f"database {settings.DATABASES['default']['ENGINE']}, broker {args.broker} "
            f"({settings.KAFKA_TOPIC_PARTITIONS} partition(s) a topic)"
            + (", one core kept busy by a spinning process" if args.busy_core else "")
        )

        if "pipeline" in paths:
            names = ("bridge", "worker", "relay")
            for name in names:
                stack[name].start()
            wait_for_log(stack["relay"], "relay is the leader", timeout=60)
            for name in names:
                meter.groups[name] = [stack[name].popen.pid]
            meter.groups["redis"] = [stack.redis.pid]
            path = Measured(
                "pipeline",
                wire.topic_name(command_topic),
                wire.topic_name(event_topic),
                [*names, "redis"],
            )
            warm_up(path, args, stack.bootstrap, headers)
            started = timezone.now()
            profilers = _start_profilers(stack, names, args.profile) if args.profile else []
            result = measure(path, meter, args, stack.bootstrap, headers)
            _stop_profilers(profilers)
            result["stages"] = _stages(app, started)
            results.append(result)
            for name in names:
                stack[name].stop()
                del meter.groups[name]
            del meter.groups["redis"]

        if "service" in paths:
            env = service_environment(os.environ["DATABASE_URL"], stack.bootstrap)
            service = start_service(args.service_command, env, workdir)
            try:
                meter.groups["service"] = [service.popen.pid]
                path = Measured(
                    "service",
                    SERVICE_TOPICS["COMMAND_TOPIC_NOTE"],
                    SERVICE_TOPICS["EVENT_TOPIC_NOTE_STATUS"],
                    ["service"],
                )
                warm_up(path, args, stack.bootstrap, headers)
                started = timezone.now()
                result = measure(path, meter, args, stack.bootstrap, headers)
                result["stages"] = service_stages(os.environ["DATABASE_URL"], started)
                result["command"] = args.service_command
                results.append(result)
            finally:
                service.stop()
                meter.groups.pop("service", None)

        if "raw" in paths:
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
            try:
                assert forwarder.stdout.readline().strip() == "ready"
                meter.groups["forwarder"] = [forwarder.pid]
                path = Measured("raw", "BENCH_RAW_IN", "BENCH_RAW_OUT", ["forwarder"])
                warm_up(path, args, stack.bootstrap, headers)
                results.append(measure(path, meter, args, stack.bootstrap, headers))
                forwarder.wait(60)
            finally:
                if forwarder.poll() is None:
                    forwarder.kill()
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait(10)
        stack.close()
    summary(results, args)


def summary(results: list[dict], args) -> None:
    """One table of every path's figures (and the JSON of them with ``--json``)."""
    if not results:
        return
    by_name = {r["name"]: r for r in results}
    if "raw" in by_name:
        raw = by_name["raw"]
        for r in results:
            if r is not raw and raw["rate"] and raw["p99"]:
                r["rate_vs_raw"] = r["rate"] / raw["rate"]
                r["p99_vs_raw"] = r["p99"] / raw["p99"]
    print(
        "\n| path | received | msg/s | latency p50 / p95 / p99 ms | CPU ms per message: own "
        "| broker | PostgreSQL | load generator | machine |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cpu = r["cpu_ms_per_message"]
        own = " + ".join(f"{n} {cpu[n]:.2f}" for n in r["own"])
        if len(r["own"]) > 1:
            own += f" = {sum(cpu[n] for n in r['own']):.2f}"
        versus = f" ({r['rate_vs_raw']:.2f} of raw)" if "rate_vs_raw" in r else ""
        tail = f" ({r['p99_vs_raw']:.2f}x raw)" if "p99_vs_raw" in r else ""
        postgres = f"{cpu['postgres']:.2f}" if "postgres" in cpu else "-"
        print(
            f"| {r['name']} | {r['received']}/{r['messages']} | {r['rate']:,.0f}{versus} "
            f"| {r['p50']:.0f} / {r['p95']:.0f} / {r['p99']:.0f}{tail} | {own} "
            f"| {cpu['broker']:.2f} | {postgres} | {cpu['load generator']:.2f} "
            f"| {cpu['machine']:.2f} |"
        )
    if args.json:
        settings = {
            k: getattr(args, k)
            for k in (
                "broker",
                "service",
                "service_command",
                "messages",
                "rate",
                "keys",
                "warmup",
                "busy_core",
            )
        }
        args.json.write_text(json.dumps({"settings": settings, "results": results}, indent=2))
        print(f"\nfigures written to {args.json}")


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


if __name__ == "__main__":
    main()
