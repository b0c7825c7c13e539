"""Import the notes of upstream's atlas-notes database into ours, keeping their ids.

    manage.py notes_import_upstream [--source-url postgres://USER:PASSWORD@HOST:PORT/NAME]
        [--tenant UUID=REGION:MAJOR.MINOR ...] [--batch-size 1000] [--limit N]
        [--no-progress]

The source is upstream's PostgreSQL database, reached over a connection of its
own (not this project's database settings): ``--source-url``, else upstream's
variables ``DB_HOST``, ``DB_PORT``, ``DB_USER``, ``DB_PASSWORD`` and ``DB_NAME``.
It is only read (a read-only session).

Live notes are copied with their ids, tenants, owners, senders, messages, flags
and times; soft-deleted ones (``deleted_at`` set) are skipped and counted. Safe
to run again: notes already here are never changed, so a run that was killed or
stopped by ``--limit`` is finished by running it again. **It writes no Kafka
events** (nothing goes to the outbox): the notes already existed, and upstream
announced them when they were written.

Exit status 1 if it cannot start (no source, not upstream's table, unknown
tenants …) or if some upstream ids are taken here by other notes (conflicts:
listed, not imported). Details: notes/importing.py and docs/operator-swap.md.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from notes import importing


class Command(BaseCommand):
    help = (
        "Import upstream atlas-notes' notes (PostgreSQL table 'notes') with their ids. "
        "Idempotent and resumable; emits no Kafka events."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--source-url",
            help="upstream's database, postgres://USER:PASSWORD@HOST:PORT/NAME "
            "(default: from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME)",
        )
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            metavar="UUID=REGION:MAJOR.MINOR",
            help="the region and version of an upstream tenant id we do not have yet "
            "(repeatable); otherwise asked of the tenants service",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=importing.DEFAULT_BATCH_SIZE,
            help="source rows per transaction (default %(default)s)",
        )
        parser.add_argument(
            "--limit",
            type=int,
            help="stop after reading this many source rows; run again to continue",
        )
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="no progress on stderr (a bar on a terminal, else a line per tenth)",
        )

    def handle(self, *args, **options) -> None:
        try:
            explicit = [importing.parse_tenant_mapping(text) for text in options["tenant"]]
            if options["limit"] is not None and options["limit"] < 1:
                raise importing.ImportFailed("--limit must be at least 1")
            conninfo = importing.source_conninfo(options["source_url"])
            where = importing.describe_source(conninfo)
            with importing.connect_source(conninfo) as source:
                importing.check_source(source)
                summary = importing.source_summary(source)
                total = summary.rows
                if options["limit"] is not None:
                    total = min(total, options["limit"])
                with self._progress(total, not options["no_progress"]) as advance:
                    result = importing.run_import(
                        source,
                        batch_size=options["batch_size"],
                        limit=options["limit"],
                        explicit_tenants=explicit,
                        on_batch=lambda batch, _result: advance(len(batch)),
                        summary=summary,
                    )
        except importing.ImportFailed as failed:
            raise CommandError(str(failed)) from failed
        self._report(where, result)
        if result.conflicts:
            raise CommandError(
                f"{len(result.conflicts)} upstream notes were not imported because our notes "
                f"table holds other notes with their ids: {_ids(result.conflicts)}"
            )

    def _progress(self, total: int, shown: bool):
        """A context manager yielding ``advance(rows)``: a tqdm bar on a terminal, else
        (a log, a pipe) a plain line on stderr at every tenth of the way."""
        return _Progress(total, shown=shown, lines=self.stderr)

    def _report(self, where: str, result: importing.ImportResult) -> None:
        self.stdout.write(
            f"notes from {where}: {result.imported} imported, {result.present} already present, "
            f"{result.skipped_deleted} skipped (soft-deleted upstream), "
            f"{len(result.conflicts)} conflicting ids; {result.read} source rows read"
        )
        for key in result.tenants_created:
            self.stdout.write(f"tenant created: {key}")
        if result.deleted_since:
            self.stderr.write(
                f"warning: {len(result.deleted_since)} notes imported by an earlier run were "
                f"deleted upstream since and stay live here: {_ids(result.deleted_since)}"
            )
        if not result.complete:
            self.stdout.write(
                f"stopped by --limit after upstream id {result.last_id}: run again to continue"
            )


def _ids(note_ids: list[int], shown: int = 20) -> str:
    more = " …" if len(note_ids) > shown else ""
    return ", ".join(str(note_id) for note_id in note_ids[:shown]) + more


class _Progress:
    def __init__(self, total: int, *, shown: bool, lines) -> None:
        self.total = total
        self.bar = None
        self.lines = lines if shown and not sys.stderr.isatty() else None
        if shown and self.lines is None:
            self.bar = tqdm(total=total, unit="note", desc="notes", file=sys.stderr)
        self.done = 0
        self.tenths = 0

    def __enter__(self):
        return self.advance

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
        elif self.lines is not None and self.total:
            tenths = min(10, self.done * 10 // self.total)
            if tenths > self.tenths:
                self.tenths = tenths
                self.lines.write(f"notes: {self.done}/{self.total} source rows read")

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()
