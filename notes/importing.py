"""Importing the notes upstream's atlas-notes keeps in PostgreSQL (table ``notes``).

An operator who swaps the Go notes service for this one runs
``manage.py notes_import_upstream`` once (see docs/operator-swap.md); the
command is a thin shell around ``run_import`` here.

What it does, in order:

1. Checks that the source table has upstream's columns (GORM's AutoMigrate of
   ``note.Entity``: ``id``, ``tenant_id``, ``character_id``, ``sender_id``,
   ``message``, ``timestamp``, ``flag``, ``created_at``, ``updated_at``,
   ``deleted_at``). The source connection is read-only.
2. Resolves every tenant id of the live rows to one of our ``Tenant`` rows
   before writing anything: a row we already have with that id, else the
   operator's ``UUID=REGION:MAJOR.MINOR``, else the tenant list of the tenants
   service (``TENANTS_SERVICE_URL`` / ``BASE_SERVICE_URL``). Missing rows are
   created with ``tenant_row``, as everywhere in the project. A tenant id none
   of these knows stops the import before anything is written.
3. Moves our note id sequence past upstream's highest id (soft-deleted rows
   included: upstream never reuses an id, so neither do we).
4. Reads the source in id order (keyset pagination) and writes each batch in its
   own transaction, keeping upstream's note ids: an id is the note's identity
   over REST and on Kafka. A row whose id we already hold is left untouched
   ("already present"); if our row at that id is another note (another tenant
   or creation time), it is a conflict, reported and not imported.

Idempotent and resumable: the upstream id is the mapping, so a second run (or
a run after one that was killed, or stopped by ``limit``) finds the rows it
already wrote and imports only the rest. Soft-deleted rows (``deleted_at`` set,
invisible to upstream's API) are skipped and counted. A row we hold is never
changed: a note upstream changes or deletes after a run imported it keeps the
imported state here (a deletion is reported), so the run that counts is the one
after the Go service stopped.

Nothing is emitted: no Kafka event, no outbox row. The notes already existed,
and upstream announced them when they were written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import psycopg
from django.db import transaction

from notes.models import Note
from project.db import ids
from project.directory import LookupFailed, http
from project.directory import tenants as tenant_list
from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row

logger = logging.getLogger(__name__)

SOURCE_TABLE = "notes"
SOURCE_COLUMNS = (
    "id",
    "tenant_id",
    "character_id",
    "sender_id",
    "message",
    "timestamp",
    "flag",
    "created_at",
    "updated_at",
    "deleted_at",
)
# upstream's connection settings (libs/atlas-database), and their libpq keywords.
SOURCE_ENV = {
    "DB_HOST": "host",
    "DB_PORT": "port",
    "DB_USER": "user",
    "DB_PASSWORD": "password",
    "DB_NAME": "dbname",
}
DEFAULT_BATCH_SIZE = 1000
NIL_UUID = uuid.UUID(int=0)
# Go's zero time: what upstream reads for a time it never set.
GO_ZERO_TIME = "0001-01-01 00:00:00+00"

# NULLs (GORM's columns are nullable) read as the Go zero values upstream would
# see. The tenant id is read as text: GORM makes a ``uuid.UUID`` field without a
# type tag a ``text`` column, a hand-made table may use ``uuid``; both work.
_SELECT = f"""
    SELECT id,
           COALESCE(tenant_id::text, '{NIL_UUID}'),
           COALESCE(character_id, 0),
           COALESCE(sender_id, 0),
           COALESCE(message, ''),
           COALESCE(timestamp, '{GO_ZERO_TIME}'),
           COALESCE(flag, 0),
           COALESCE(created_at, '{GO_ZERO_TIME}'),
           COALESCE(updated_at, '{GO_ZERO_TIME}'),
           deleted_at
      FROM {SOURCE_TABLE}
     WHERE id > %s
     ORDER BY id
     LIMIT %s
"""


class ImportFailed(Exception):
    """The import cannot start or finish; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class SourceNote:
    """One row of upstream's ``notes`` table."""

    id: int
    tenant_id: uuid.UUID
    character_id: int
    sender_id: int
    message: str
    timestamp: dt.datetime
    flag: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None


@dataclass
class ImportResult:
    read: int = 0
    imported: int = 0
    present: int = 0
    skipped_deleted: int = 0
    conflicts: list[int] = field(default_factory=list)
    # Imported live by an earlier run, soft-deleted upstream since: left live here.
    deleted_since: list[int] = field(default_factory=list)
    tenants_created: list[TenantKey] = field(default_factory=list)
    last_id: int = 0  # the highest upstream id read so far
    complete: bool = False  # the whole table was read (not stopped by ``limit``)


# --- the source ---------------------------------------------------------------------


def source_conninfo(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The libpq connection string: ``url`` if given, else upstream's ``DB_*`` variables."""
    if url:
        return url
    environ = os.environ if environ is None else environ
    given = {keyword: environ[name] for name, keyword in SOURCE_ENV.items() if environ.get(name)}
    if "host" not in given or "dbname" not in given:
        raise ImportFailed(
            "no source database: give --source-url postgres://USER:PASSWORD@HOST:PORT/NAME "
            "or upstream's DB_HOST, DB_PORT, DB_USER, DB_PASSWORD and DB_NAME"
        )
    return psycopg.conninfo.make_conninfo(**given)


def describe_source(conninfo: str) -> str:
    """``user@host:port/dbname`` of a connection string, without its password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the source database"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def connect_source(conninfo: str) -> psycopg.Connection:
    """A read-only, autocommit connection in UTC (upstream's DSN says ``TimeZone=UTC``)."""
    try:
        source = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise ImportFailed(f"cannot connect to {describe_source(conninfo)}: {exc}") from exc
    source.execute("SET default_transaction_read_only = on")
    source.execute("SET TIME ZONE 'UTC'")
    return source


def check_source(source: psycopg.Connection) -> None:
    rows = source.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = %s AND table_schema = ANY (current_schemas(false))",
        [SOURCE_TABLE],
    ).fetchall()
    if not rows:
        raise ImportFailed(
            f"the source database has no table {SOURCE_TABLE!r}: is it upstream's notes "
            "database? If DB_* name another one here, give --source-url"
        )
    missing = sorted(set(SOURCE_COLUMNS) - {name for (name,) in rows})
    if missing:
        raise ImportFailed(
            f"the source table {SOURCE_TABLE!r} is not upstream's: no column {', '.join(missing)}"
        )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:  # a ``timestamp`` column: UTC upstream
        return value.replace(tzinfo=dt.UTC)
    return value


def source_batches(
    source: psycopg.Connection, *, after_id: int = 0, batch_size: int, limit: int | None = None
) -> Iterator[list[SourceNote]]:
    """The source rows in id order, ``batch_size`` at a time, at most ``limit`` in all."""
    remaining = limit
    while remaining is None or remaining > 0:
        size = batch_size if remaining is None else min(batch_size, remaining)
        rows = source.execute(_SELECT, [after_id, size]).fetchall()
        if not rows:
            return
        batch = [
            SourceNote(
                id=row[0],
                tenant_id=uuid.UUID(row[1]),
                character_id=row[2],
                sender_id=row[3],
                message=row[4],
                timestamp=_utc(row[5]),
                flag=row[6],
                created_at=_utc(row[7]),
                updated_at=_utc(row[8]),
                deleted_at=_utc(row[9]),
            )
            for row in rows
        ]
        yield batch
        after_id = batch[-1].id
        if remaining is not None:
            remaining -= len(batch)
        if len(batch) < size:
            return


# --- tenants ------------------------------------------------------------------------


def parse_tenant_mapping(text: str) -> TenantKey:
    """``UUID=REGION:MAJOR.MINOR`` (e.g. ``0838…d123=GMS:83.1``) as a tenant key."""
    try:
        tenant_id, rest = text.split("=", 1)
        region, versions = rest.rsplit(":", 1)
        major, minor = versions.split(".", 1)
        key = TenantKey(uuid.UUID(tenant_id), region, int(major), int(minor))
    except ValueError:
        raise ImportFailed(
            f"--tenant {text!r}: expected UUID=REGION:MAJOR.MINOR, e.g. "
            "083839c6-c47c-42a6-9585-76492795d123=GMS:83.1"
        ) from None
    if not key.region or not (0 <= key.major <= 0xFFFF and 0 <= key.minor <= 0xFFFF):
        raise ImportFailed(f"--tenant {text!r}: empty region or version out of range")
    return key


def tenants_service_keys() -> list[TenantKey]:
    """Every tenant the tenants service knows (its ``GET tenants``), or ``[]`` if none is
    configured. Raises ``ImportFailed`` if it is configured but does not answer."""
    if not http.configured("TENANTS"):
        return []
    try:
        return tenant_list.keys()
    except LookupFailed as exc:
        raise ImportFailed(f"the tenants service did not answer: {exc}") from exc


def source_tenant_ids(source: psycopg.Connection) -> set[uuid.UUID]:
    rows = source.execute(
        f"SELECT DISTINCT COALESCE(tenant_id::text, '{NIL_UUID}') FROM {SOURCE_TABLE}"
        " WHERE deleted_at IS NULL"
    ).fetchall()
    return {uuid.UUID(value) for (value,) in rows}


def resolve_tenants(
    tenant_ids: Iterable[uuid.UUID],
    *,
    explicit: Iterable[TenantKey] = (),
    lookup: Callable[[], list[TenantKey]] = tenants_service_keys,
) -> tuple[dict[uuid.UUID, Tenant], list[TenantKey]]:
    """Our tenant row for each upstream tenant id, and the keys of the rows created.

    Notes are scoped by the tenant id alone (region and versions do not
    partition them), so any of our rows with that id will do (the first in the
    table's order): a tenant row is created only for an id we have none of.
    Nothing is created unless every id resolves.
    """
    wanted = set(tenant_ids)
    found: dict[uuid.UUID, Tenant] = {}
    for tenant in Tenant.objects.filter(uuid__in=wanted):
        found.setdefault(tenant.uuid, tenant)
    unresolved = wanted - found.keys()
    keys = {key.id: key for key in explicit if key.id in unresolved}
    unresolved -= keys.keys()
    if unresolved:
        for key in lookup():
            if key.id in unresolved:
                keys.setdefault(key.id, key)
        unresolved -= keys.keys()
    if unresolved:
        listed = ", ".join(sorted(str(tenant_id) for tenant_id in unresolved))
        raise ImportFailed(
            f"unknown tenant ids in the source: {listed}. Nothing was imported. Name each "
            "with --tenant UUID=REGION:MAJOR.MINOR (or configure TENANTS_SERVICE_URL)"
        )
    created = []
    for tenant_id, key in keys.items():
        existed = Tenant.objects.filter(
            uuid=key.id, region=key.region, major_version=key.major, minor_version=key.minor
        ).exists()
        found[tenant_id] = tenant_row(key)
        if not existed:
            created.append(key)
    return found, created


# --- our side -----------------------------------------------------------------------


def advance_note_ids(past: int) -> None:
    """Make the next note id we hand out greater than ``past`` (never move it back)."""
    try:
        ids.advance_table_ids(Note, past)
    except ValueError as exc:
        raise ImportFailed(str(exc)) from None


def import_batch(
    batch: list[SourceNote], tenants: Mapping[uuid.UUID, Tenant], result: ImportResult
) -> None:
    """Write the live rows of ``batch`` that we do not hold yet, in one transaction.

    A row we hold is never changed. One soft-deleted upstream after an earlier run
    imported it is only reported (``deleted_since``): it stays live here.
    """
    with transaction.atomic():
        held = {
            pk: ((tenant_uuid, created_at), deleted_at is None)
            for pk, tenant_uuid, created_at, deleted_at in Note.objects.filter(
                pk__in=[row.id for row in batch]
            ).values_list("pk", "tenant_uuid", "created_at", "deleted_at")
        }
        new = []
        for row in batch:
            ours = held.get(row.id)
            same = ours is not None and ours[0] == (row.tenant_id, row.created_at)
            if row.deleted_at is not None:
                result.skipped_deleted += 1
                if same and ours[1]:
                    result.deleted_since.append(row.id)
                continue
            if ours is not None:
                if same:
                    result.present += 1
                else:
                    logger.error("upstream note %s not imported: our note %s is another note",
                                 row.id, row.id)  # fmt: skip
                    result.conflicts.append(row.id)
                continue
            new.append(
                Note(
                    id=row.id,
                    tenant=tenants[row.tenant_id],
                    tenant_uuid=row.tenant_id,
                    character_id=row.character_id,
                    sender_id=row.sender_id,
                    message=row.message,
                    timestamp=row.timestamp,
                    flag=row.flag,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    deleted_at=None,
                )
            )
        Note.objects.bulk_create(new)
    result.imported += len(new)
    result.read += len(batch)
    result.last_id = batch[-1].id


# --- the whole import -----------------------------------------------------------------


@dataclass(frozen=True)
class SourceSummary:
    rows: int
    max_id: int


def source_summary(source: psycopg.Connection) -> SourceSummary:
    query = f"SELECT count(*), COALESCE(max(id), 0) FROM {SOURCE_TABLE}"
    rows, max_id = source.execute(query).fetchone()
    return SourceSummary(rows, max_id)


def run_import(
    source: psycopg.Connection,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limit: int | None = None,
    explicit_tenants: Iterable[TenantKey] = (),
    tenant_lookup: Callable[[], list[TenantKey]] = tenants_service_keys,
    on_batch: Callable[[list[SourceNote], ImportResult], None] | None = None,
    summary: SourceSummary | None = None,
) -> ImportResult:
    """Import upstream's live notes from ``source`` (see the module docstring).

    ``limit`` stops after that many source rows (a rehearsal, or a run in
    parts); ``on_batch`` is called after each committed batch. Emits nothing.
    """
    if batch_size < 1:
        raise ImportFailed("the batch size must be at least 1")
    check_source(source)
    summary = summary or source_summary(source)
    tenants, created = resolve_tenants(
        source_tenant_ids(source), explicit=explicit_tenants, lookup=tenant_lookup
    )
    result = ImportResult(tenants_created=created)
    advance_note_ids(summary.max_id)
    for batch in source_batches(source, batch_size=batch_size, limit=limit):
        unknown = {row.tenant_id for row in batch if row.deleted_at is None} - tenants.keys()
        if unknown:  # live rows written upstream since the tenants were resolved
            more, more_created = resolve_tenants(
                unknown, explicit=explicit_tenants, lookup=tenant_lookup
            )
            tenants.update(more)
            result.tenants_created.extend(more_created)
        import_batch(batch, tenants, result)
        if on_batch is not None:
            on_batch(batch, result)
    # Rows upstream wrote while we read (if it still runs) are past the first count.
    advance_note_ids(result.last_id)
    result.complete = limit is None or result.read < limit
    if not result.complete:
        # Stopped exactly at the limit: complete only if nothing is left to read.
        (left,) = source.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {SOURCE_TABLE} WHERE id > %s LIMIT 1) AS t",
            [result.last_id],
        ).fetchone()
        result.complete = left == 0
    return result
