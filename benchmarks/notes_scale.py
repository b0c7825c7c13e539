"""Notes at scale: one character with 10,000 notes in a tenant with 1,000,000.

    scripts/throwaway_postgres.py -- .venv/bin/python -m benchmarks.notes_scale
    .venv/bin/python -m benchmarks.notes_scale --notes 200000   # SQLite, smaller

Fills a fresh database (PostgreSQL when DATABASE_URL is set, else SQLite in a
temp dir), with a share of discarded (soft-deleted) rows as a live tenant has,
then measures through the real REST views (Django's test client, the whole
request path) and the real services:

- the character's first, middle and last page (sizes 50 and 250), and the
  tenant-wide first and last page;
- a DISCARD of three notes (with its DELETED events and sagas in the outbox);
- a character-wide delete of the 10,000 notes;

and prints the query plans of the listing, count and DISCARD queries. Not a
test: figures go into the report / docs, not into assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BIG_CHARACTER = 4242


def timed(func, *, repeat: int) -> tuple[float, float]:
    """Median and best wall time in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def fill(tenant, *, notes: int, big: int, deleted_share: float) -> None:
    """``notes`` live notes (``big`` of them for BIG_CHARACTER), plus discarded ones."""
    from django.db import connection
    from django.utils import timezone

    from notes.models import Note

    now = timezone.now()
    discarded = int(notes * deleted_share)
    others = max(1, (notes - big) // 10)  # about ten notes per other character

    every = max(1, notes // big)  # one live note in ``every`` is the big character's

    def rows():
        for i in range(notes + discarded):
            live = i < notes
            if live and i % every == 0 and i // every < big:
                owner = BIG_CHARACTER
            else:
                owner = 100_000 + (i % others)
            yield (owner, 1 + i % 5000, f"note {i}", i % 3, None if live else now)

    started = time.perf_counter()
    if connection.vendor == "postgresql":
        columns = (
            "tenant_id, tenant_uuid, character_id, sender_id, message, timestamp, flag, "
            "created_at, updated_at, deleted_at"
        )
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg 3: COPY for speed
            with raw.copy(f"COPY notes_note ({columns}) FROM STDIN") as copy:
                for owner, sender, message, flag, deleted_at in rows():
                    row = (tenant.pk, tenant.uuid, owner, sender, message, now, flag, now, now)
                    copy.write_row((*row, deleted_at))
        # What autovacuum does to a settled table: statistics and the visibility map
        # (index-only scans for the counts). One VACUUM right after the load may leave
        # pages not all-visible (whatever else held a snapshot then), and the planner
        # then priced an index-only count above a table scan in some runs and not in
        # others: vacuum again until every page is all-visible, as a settled table's.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE notes_note")
            for _ in range(5):
                cursor.execute(
                    "SELECT relallvisible >= relpages FROM pg_class WHERE relname = 'notes_note'"
                )
                if cursor.fetchone()[0]:
                    break
                cursor.execute("VACUUM notes_note")
    else:
        batch = []
        for owner, sender, message, flag, deleted_at in rows():
            batch.append(
                Note(
                    tenant=tenant,
                    tenant_uuid=tenant.uuid,
                    character_id=owner,
                    sender_id=sender,
                    message=message,
                    timestamp=now,
                    flag=flag,
                    created_at=now,
                    updated_at=now,
                    deleted_at=deleted_at,
                )
            )
            if len(batch) == 10_000:
                Note.objects.bulk_create(batch)
                batch = []
        Note.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"filled {notes:,} live + {discarded:,} discarded notes "
        f"({big:,} live for character {BIG_CHARACTER}) in {time.perf_counter() - started:.1f} s"
    )


def explain(queryset, label: str, *, count: bool = False) -> None:
    """The plan of a queryset's SELECT, or of the COUNT(*) Django runs for it."""
    from django.db import connection

    analyze = connection.vendor == "postgresql"
    print(f"\n--- plan: {label}")
    if not count:
        print(queryset.explain(analyze=True, buffers=True) if analyze else queryset.explain())
        return
    sql, params = queryset.order_by().values("id").query.sql_with_params()
    prefix = "EXPLAIN (ANALYZE, BUFFERS)" if analyze else "EXPLAIN QUERY PLAN"
    with connection.cursor() as cursor:
        cursor.execute(f"{prefix} SELECT COUNT(*) FROM ({sql}) AS counted", params)
        print("\n".join(" ".join(str(col) for col in row) for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1_000_000, help="live notes in the tenant")
    parser.add_argument("--big", type=int, default=10_000, help="live notes of one character")
    parser.add_argument("--deleted-share", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-insecure-key")
    if not os.environ.get("DATABASE_URL"):
        os.environ["ATLAS_DATA_DIR"] = tempfile.mkdtemp(prefix="notes-scale-")
        os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['ATLAS_DATA_DIR']}/atlas.sqlite3"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from notes import selectors, services
    from notes.paging import IdOrderedPages
    from project.messaging.models import OutboxMessage
    from project.tenancy import TenantKey
    from project.tenancy.rows import tenant_row

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}")
    key = TenantKey(uuid.uuid4(), "GMS", 83, 1)
    tenant = tenant_row(key)
    fill(tenant, notes=args.notes, big=args.big, deleted_share=args.deleted_share)

    client = Client(headers=key.http_headers())

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:200])

    print(f"\nREST through the views, median / best of {args.repeat} (ms):")
    base = f"/api/characters/{BIG_CHARACTER}/notes"
    for size in (50, 250):
        last = -(-args.big // size)
        for label, number in (("first", 1), ("middle", last // 2), ("last", last)):
            path = f"{base}?page[number]={number}&page[size]={size}"
            median, best = timed(lambda path=path: get(path), repeat=args.repeat)
            print(f"  character page {label:>6} (size {size:3}): {median:8.2f} / {best:8.2f}")
    tenant_last = -(-args.notes // 50)
    for label, number in (("first", 1), ("last", tenant_last)):
        path = f"/api/notes?page[number]={number}"
        median, best = timed(lambda path=path: get(path), repeat=max(3, args.repeat // 3))
        print(f"  tenant page    {label:>6} (size  50): {median:8.2f} / {best:8.2f}")

    ids = list(
        selectors.notes_of_character(tenant=tenant, character_id=BIG_CHARACTER).values_list(
            "id", flat=True
        )[: 3 * args.repeat]
    )
    batches = iter([ids[i : i + 3] for i in range(0, len(ids), 3)])

    def discard() -> None:
        discarded = services.notes_discard(
            tenant=tenant,
            world_id=1,
            channel_id=1,
            character_id=BIG_CHARACTER,
            note_ids=next(batches),
        )
        assert len(discarded) == 3

    median, best = timed(discard, repeat=args.repeat)
    print(f"  DISCARD of 3 notes (service, commit):   {median:8.2f} / {best:8.2f}")

    character_notes = selectors.notes_of_character(tenant=tenant, character_id=BIG_CHARACTER)
    size = 50
    remaining = character_notes.count()
    pages = IdOrderedPages(character_notes)
    explain(character_notes, "character count (meta.total)", count=True)
    explain(character_notes[:size], "character first page")
    explain(
        character_notes.order_by("-id")[: remaining - (remaining // size) * size or size],
        "character last page (read from the end)",
    )
    live_ids = list(character_notes.values_list("id", flat=True)[:3])
    with transaction.atomic():
        explain(
            selectors.notes_by_ids(tenant=tenant, note_ids=live_ids).select_for_update(),
            "DISCARD lock of three notes",
        )
    tenant_notes = selectors.notes_live(tenant=tenant)
    explain(tenant_notes, "tenant count (meta.total)", count=True)
    explain(tenant_notes[:size], "tenant first page")
    explain(tenant_notes.order_by("-id")[:size], "tenant last page (read from the end)")
    assert len(pages[0:size]) == size

    before = OutboxMessage.objects.count()
    start = time.perf_counter()
    deleted = services.notes_delete_for_character(tenant=tenant, character_id=BIG_CHARACTER)
    elapsed = (time.perf_counter() - start) * 1000
    events = OutboxMessage.objects.count() - before
    print(f"\ncharacter delete: {deleted:,} notes, {events:,} DELETED events in {elapsed:.0f} ms")


if __name__ == "__main__":
    main()
