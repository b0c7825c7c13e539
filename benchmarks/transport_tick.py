"""What one transport tick costs: 100 tenants x 12 seeded routes, nothing due, and a
busy tick where every route of every tenant transitions.

    .venv/bin/python -m benchmarks.transport_tick [--tenants 100] [--ticks 200] [--busy 5]
    scripts/throwaway_postgres.py -- .venv/bin/python -m benchmarks.transport_tick

Uses a fresh database (PostgreSQL when DATABASE_URL is set, else SQLite in a temp
dir), loads the seed configuration for every tenant, settles the routes, then
times a tick at midnight where all routes change state at once (twice: the
first tick of the process, which parses every route's timetable, then the same
tick ``--busy`` times again with the timetables parsed, the routes put back each
time), and ticks at instants inside a gap of the
timetable where no boundary falls (the common case: the tick's one indexed query
finds no due route). Reports wall time and the number of SQL statements. Not a
test: the figures go into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--busy", type=int, default=5, help="busy ticks with timetables parsed")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-insecure-key")
    if not os.environ.get("DATABASE_URL"):
        os.environ["ATLAS_DATA_DIR"] = tempfile.mkdtemp(prefix="transport-tick-")
        os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['ATLAS_DATA_DIR']}/atlas.sqlite3"
    for name in ("BASE_SERVICE_URL", "TENANTS_SERVICE_URL", "MAPS_SERVICE_URL", "DATA_SERVICE_URL"):
        os.environ.pop(name, None)  # local directory: the figure is the tick's own cost
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from project.messaging.models import OutboxMessage
    from project.tenancy.models import Tenant
    from transport import services, tick, timetable
    from transport.models import Route, RouteState

    call_command("migrate", verbosity=0)
    day = dt.datetime(2026, 8, 6, tzinfo=dt.UTC)
    started = time.perf_counter()
    for _ in range(args.tenants):
        tenant = Tenant.objects.create(
            uuid=uuid.uuid4(), region="GMS", major_version=83, minor_version=1
        )
        services.seed_configuration_load(tenant=tenant, now=day)
    print(
        f"{args.tenants} tenants x {Route.objects.count() // args.tenants} routes loaded "
        f"in {time.perf_counter() - started:.1f} s ({connection.vendor})"
    )

    # Midnight: every route of every tenant transitions (A sides open, B sides wait).
    # The first tick of a process reads and parses every route's schedule; later
    # ones find them parsed (by configuration version): the same tick again, with
    # the routes put back as they were, is the busy tick of a running process.
    busy_at = day + dt.timedelta(milliseconds=200)

    def busy_tick() -> tuple[tick.TickResult, float, int]:
        with CaptureQueriesContext(connection) as queries:
            begin = time.perf_counter()
            result = tick.run(busy_at)
            elapsed = (time.perf_counter() - begin) * 1000
        Route.objects.update(
            state=RouteState.OUT_OF_SERVICE, state_changed_at=None, next_boundary_at=day
        )
        OutboxMessage.objects.all().delete()
        return result, elapsed, len(queries)

    busy, busy_ms, busy_statements = busy_tick()
    print(
        f"busy tick, first in the process (all {busy.routes_due} routes due, "
        f"{busy.transitions} transitions, {busy.records} records): {busy_ms:.0f} ms, "
        f"{busy_statements} statements"
    )
    runs = [busy_tick() for _ in range(args.busy)]
    times = sorted(elapsed for _, elapsed, _ in runs)
    print(
        f"busy tick, timetables parsed ({args.busy} ticks, each all {runs[0][0].routes_due} "
        f"routes due, {runs[0][0].transitions} transitions, {runs[0][0].records} records): "
        f"median {statistics.median(times):.0f} ms, best {times[0]:.0f} ms, "
        f"{runs[0][2]} statements"
    )
    tick.run(busy_at)

    # A gap with no boundary of any route: ticks inside it have nothing due.
    points = sorted(
        {
            p
            for route in Route.objects.all()[:12]
            for p in timetable.boundaries([timetable.Trip.from_row(r) for r in route.schedule])
        }
    )
    gaps = [(b - a, a) for a, b in itertools.pairwise(points)]
    width, start = max(gaps)
    base = day + dt.timedelta(microseconds=start)
    tick.run(base + dt.timedelta(microseconds=1))  # settle everything up to the gap
    step = width / (args.ticks + 2)
    samples = []
    statements = []
    for n in range(args.ticks):
        instant = base + dt.timedelta(microseconds=2 + step * (n + 1))
        with CaptureQueriesContext(connection) as queries:
            begin = time.perf_counter()
            result = tick.run(instant)
            samples.append((time.perf_counter() - begin) * 1000)
        assert result.routes_due == 0, result
        statements.append(len(queries))
    samples.sort()
    print(
        f"idle tick ({args.tenants * 12} routes, nothing due, {args.ticks} ticks): "
        f"median {statistics.median(samples):.2f} ms, p95 "
        f"{samples[int(len(samples) * 0.95) - 1]:.2f} ms, "
        f"{statistics.median(statements):.0f} statements (BEGIN and COMMIT included)"
    )


if __name__ == "__main__":
    main()
