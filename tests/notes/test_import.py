"""Importing upstream's notes (manage.py notes_import_upstream) from a real PostgreSQL table.

The source is always real PostgreSQL, laid out as GORM's AutoMigrate makes
upstream's ``notes`` table: a database of its own on the test server when the
tests run on PostgreSQL, else a throwaway cluster of this module
(scripts/throwaway_postgres.py).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from notes import importing
from notes.models import Note
from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row
from tests.notes.support import create, seed_raw
from tests.support import new_tenant

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
MAX_U32 = 0xFFFFFFFF
# What GORM's AutoMigrate creates for note.Entity on PostgreSQL (uint32 with
# autoIncrement: bigserial; uint32: bigint; byte: smallint; time.Time: timestamptz;
# gorm.DeletedAt: timestamptz with an index). The tenant id column is ``uuid`` as
# upstream's storage doc says, or ``text`` as GORM makes a ``uuid.UUID`` field.
NOTES_DDL = """
    CREATE TABLE notes (
        id bigserial,
        tenant_id {tenant_type},
        character_id bigint,
        sender_id bigint,
        message text,
        timestamp timestamptz,
        flag smallint,
        created_at timestamptz,
        updated_at timestamptz,
        deleted_at timestamptz,
        PRIMARY KEY (id)
    );
    CREATE INDEX idx_notes_deleted_at ON notes (deleted_at);
"""


# --- the source server ----------------------------------------------------------------


def _throwaway_postgres():
    spec = importlib.util.spec_from_file_location(
        "throwaway_postgres", ROOT / "scripts" / "throwaway_postgres.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def upstream_server():
    """A PostgreSQL server where this run may create a database: the test database's
    server on PostgreSQL, else a throwaway cluster started here."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        parts = {
            "host": db["HOST"] or "127.0.0.1",
            "port": db["PORT"] or 5432,
            "user": db["USER"],
            "password": db["PASSWORD"],
            "dbname": "postgres",
        }
        yield make_conninfo(**{key: value for key, value in parts.items() if value})
        return
    cluster = _throwaway_postgres().Cluster()
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def upstream_database(upstream_server):
    """A database of this run for upstream's table; dropped at the end."""
    name = f"atlas_upstream_notes_{os.getpid()}"
    with psycopg.connect(upstream_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    yield make_conninfo(upstream_server, dbname=name)
    with psycopg.connect(upstream_server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Upstream:
    """Upstream's notes table, empty at the start of each test."""

    url: str
    connection: psycopg.Connection

    def create_table(self, tenant_type: str = "uuid") -> None:
        self.connection.execute("DROP TABLE IF EXISTS notes")
        self.connection.execute(NOTES_DDL.format(tenant_type=tenant_type))

    def add(
        self,
        tenant_id: uuid.UUID,
        *,
        note_id: int | None = None,
        character_id: int = 200,
        sender_id: int = 100,
        message: str = "from upstream",
        flag: int = 0,
        timestamp: dt.datetime | None = None,
        created_at: dt.datetime | None = None,
        updated_at: dt.datetime | None = None,
        deleted_at: dt.datetime | None = None,
    ) -> int:
        """A row as upstream's GORM writes it; returns its id."""
        timestamp = timestamp or dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
        columns = {
            "tenant_id": str(tenant_id),
            "character_id": character_id,
            "sender_id": sender_id,
            "message": message,
            "timestamp": timestamp,
            "flag": flag,
            "created_at": created_at or timestamp,
            "updated_at": updated_at or timestamp,
            "deleted_at": deleted_at,
        }
        if note_id is not None:
            columns["id"] = note_id
        names = ", ".join(columns)
        marks = ", ".join(["%s"] * len(columns))
        (new_id,) = self.connection.execute(
            f"INSERT INTO notes ({names}) VALUES ({marks}) RETURNING id", list(columns.values())
        ).fetchone()
        return new_id

    def jump_ids(self, past: int) -> None:
        """Upstream's id sequence moves on (ids used by notes deleted for good, say)."""
        self.connection.execute("SELECT setval(pg_get_serial_sequence('notes', 'id'), %s)", [past])


@pytest.fixture
def upstream(upstream_database):
    with psycopg.connect(upstream_database, autocommit=True) as connection:
        source = Upstream(upstream_database, connection)
        source.create_table()
        yield source


# --- running the command -----------------------------------------------------------------

SUMMARY = re.compile(
    r"(\d+) imported, (\d+) already present, (\d+) skipped \(soft-deleted upstream\), "
    r"(\d+) conflicting ids; (\d+) source rows read"
)


@dataclass
class Run:
    out: str
    err: str

    @property
    def counts(self) -> dict[str, int]:
        match = SUMMARY.search(self.out)
        assert match, self.out
        imported, present, deleted, conflicts, read = map(int, match.groups())
        return {
            "imported": imported,
            "present": present,
            "deleted": deleted,
            "conflicts": conflicts,
            "read": read,
        }


def run(upstream: Upstream | None, *args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    source = ["--source-url", upstream.url] if upstream is not None else []
    call_command("notes_import_upstream", *source, *args, stdout=out, stderr=err)
    return Run(out.getvalue(), err.getvalue())


def counts(imported=0, present=0, deleted=0, conflicts=0, read=None) -> dict[str, int]:
    if read is None:
        read = imported + present + deleted + conflicts
    return {
        "imported": imported,
        "present": present,
        "deleted": deleted,
        "conflicts": conflicts,
        "read": read,
    }


def snapshot() -> list[dict]:
    return list(Note.objects.order_by("id").values())


@pytest.fixture
def no_tenants_service(settings):
    settings.BASE_SERVICE_URL = ""
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "TENANTS": ""}


# --- importing ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_live_note_is_imported_field_for_field_with_its_id(upstream):
    tenant = new_tenant()
    other = new_tenant(region="JMS", major=185, minor=1)
    written = dt.datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    patched = dt.datetime(2025, 1, 2, 8, 30, 0, 1, tzinfo=UTC)
    upstream.jump_ids(40)
    first = upstream.add(
        tenant.uuid,
        character_id=MAX_U32,
        sender_id=MAX_U32 - 1,
        message="Thanks for the party! ♥ ねこ\nsee you",
        flag=255,
        timestamp=patched,  # a REST update resets the timestamp, not created_at
        created_at=written,
        updated_at=patched,
    )
    second = upstream.add(other.uuid, character_id=7, sender_id=0, message="x" * 5000, flag=1)
    third = upstream.add(tenant.uuid, note_id=1000, message="")

    result = run(upstream)

    assert (first, second, third) == (41, 42, 1000)
    assert result.counts == counts(imported=3)
    notes = {note.pk: note for note in Note.objects.all()}
    assert sorted(notes) == [41, 42, 1000]
    assert [
        (
            n.tenant_id,
            n.tenant_uuid,
            n.character_id,
            n.sender_id,
            n.message,
            n.flag,
            n.timestamp,
            n.created_at,
            n.updated_at,
            n.deleted_at,
        )
        for n in (notes[41], notes[42], notes[1000])
    ] == [
        (
            tenant.pk,
            tenant.uuid,
            MAX_U32,
            MAX_U32 - 1,
            "Thanks for the party! ♥ ねこ\nsee you",
            255,
            patched,
            written,
            patched,
            None,
        ),
        (
            other.pk,
            other.uuid,
            7,
            0,
            "x" * 5000,
            1,
            dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            None,
        ),
        (
            tenant.pk,
            tenant.uuid,
            200,
            100,
            "",
            0,
            dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
            None,
        ),
    ]
    # The notes existed already: nobody is told about them again.
    assert not OutboxMessage.objects.exists()
    assert Tenant.objects.count() == 2


@pytest.mark.django_db
def test_soft_deleted_rows_are_skipped_and_counted(upstream):
    tenant = new_tenant()
    gone = dt.datetime(2025, 2, 1, tzinfo=UTC)
    kept = upstream.add(tenant.uuid, message="unread")
    upstream.add(tenant.uuid, message="read and discarded", deleted_at=gone)
    upstream.add(tenant.uuid, message="deleted with its character", deleted_at=gone)

    result = run(upstream)

    assert result.counts == counts(imported=1, deleted=2)
    assert list(Note.objects.values_list("id", "message")) == [(kept, "unread")]


@pytest.mark.django_db
def test_a_second_run_imports_nothing_and_changes_nothing(upstream):
    tenant = new_tenant()
    for number in range(5):
        upstream.add(tenant.uuid, character_id=200 + number, message=f"note {number}")
    upstream.add(tenant.uuid, deleted_at=dt.datetime(2025, 2, 1, tzinfo=UTC))
    assert run(upstream).counts == counts(imported=5, deleted=1)
    before = snapshot()

    again = run(upstream)

    assert again.counts == counts(present=5, deleted=1)
    assert snapshot() == before
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_note_changed_here_after_the_import_is_left_as_it_is(upstream):
    tenant = new_tenant()
    note_id = upstream.add(tenant.uuid, message="original")
    run(upstream)
    Note.objects.filter(pk=note_id).update(message="edited here", character_id=300)

    assert run(upstream).counts == counts(present=1)
    assert Note.objects.values_list("message", "character_id").get() == ("edited here", 300)


@pytest.mark.django_db
def test_a_note_deleted_upstream_after_it_was_imported_is_reported_and_left_live(upstream):
    tenant = new_tenant()
    note_id = upstream.add(tenant.uuid)
    run(upstream)
    upstream.connection.execute("UPDATE notes SET deleted_at = now() WHERE id = %s", [note_id])

    result = run(upstream)

    assert result.counts == counts(deleted=1)
    assert (
        "warning: 1 notes imported by an earlier run were deleted upstream since "
        f"and stay live here: {note_id}"
    ) in result.err
    assert Note.objects.get(pk=note_id).deleted_at is None
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_run_stopped_by_limit_is_finished_by_the_next_one_each_note_once(upstream):
    tenant = new_tenant()
    ids = [upstream.add(tenant.uuid, message=f"note {n}") for n in range(7)]
    upstream.add(tenant.uuid, deleted_at=dt.datetime(2025, 2, 1, tzinfo=UTC))

    first = run(upstream, "--batch-size", "2", "--limit", "2")

    assert first.counts == counts(imported=2)
    assert f"stopped by --limit after upstream id {ids[1]}: run again to continue" in first.out
    assert list(Note.objects.order_by("id").values_list("id", flat=True)) == ids[:2]

    second = run(upstream, "--batch-size", "2")

    assert second.counts == counts(imported=5, present=2, deleted=1)
    assert "stopped by --limit" not in second.out
    assert list(Note.objects.order_by("id").values_list("id", flat=True)) == ids
    assert run(upstream).counts == counts(present=7, deleted=1)


@pytest.mark.django_db
def test_a_limit_that_reads_the_last_row_says_the_import_is_complete(upstream):
    tenant = new_tenant()
    upstream.add(tenant.uuid)
    upstream.add(tenant.uuid)

    result = run(upstream, "--limit", "2")

    assert result.counts == counts(imported=2)
    assert "stopped by --limit" not in result.out


@pytest.mark.django_db
def test_a_run_that_dies_in_a_batch_keeps_the_batches_before_and_the_next_run_finishes(
    upstream, monkeypatch
):
    """Each batch is one transaction: the one that failed leaves nothing behind."""
    tenant = new_tenant()
    ids = [upstream.add(tenant.uuid, message=f"note {n}") for n in range(5)]
    real_bulk_create = Note.objects.bulk_create
    calls = []

    def dies_on_the_second_batch(notes, *args, **kwargs):
        calls.append([note.pk for note in notes])
        created = real_bulk_create(notes, *args, **kwargs)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed after writing, before the commit
        return created

    monkeypatch.setattr(Note.objects, "bulk_create", dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        run(upstream, "--batch-size", "2")
    monkeypatch.undo()

    assert calls == [ids[0:2], ids[2:4]]
    assert list(Note.objects.order_by("id").values_list("id", flat=True)) == ids[:2]

    assert run(upstream, "--batch-size", "2").counts == counts(imported=3, present=2)
    assert list(Note.objects.order_by("id").values_list("id", flat=True)) == ids


@pytest.mark.django_db
def test_new_notes_get_ids_past_every_upstream_id_even_deleted_ones(upstream):
    tenant = new_tenant()
    probe = create(tenant).pk  # where our ids stand now (PostgreSQL's sequence outlives tests)
    Note.objects.filter(pk=probe).delete()
    live = upstream.add(tenant.uuid, note_id=probe + 30)
    deleted = upstream.add(
        tenant.uuid, note_id=probe + 95, deleted_at=dt.datetime(2025, 2, 1, tzinfo=UTC)
    )

    run(upstream)
    native = create(tenant, message="written after the switch")

    assert Note.objects.filter(pk=live).exists()
    assert native.pk == deleted + 1
    # A later upstream row (the Go service still ran) moves the ids on again.
    later = upstream.add(tenant.uuid, note_id=native.pk + 50)
    assert run(upstream).counts == counts(imported=1, present=1, deleted=1)
    assert create(tenant).pk == later + 1


@pytest.mark.django_db
def test_an_upstream_id_taken_by_another_note_here_is_reported_not_overwritten(upstream):
    tenant = new_tenant()
    ours = seed_raw(tenant, id=7, message="written here before the import")
    upstream.add(tenant.uuid, note_id=6, message="imported")
    upstream.add(tenant.uuid, note_id=7, message="same id, another note")
    upstream.add(tenant.uuid, note_id=8, message="imported too")

    with pytest.raises(CommandError, match=r"1 upstream notes were not imported .*: 7$"):
        run(upstream)

    assert dict(Note.objects.values_list("id", "message")) == {
        6: "imported",
        7: ours.message,
        8: "imported too",
    }


@pytest.mark.django_db
def test_a_tenant_id_stored_as_text_as_gorm_makes_it_is_read_too(upstream):
    upstream.create_table(tenant_type="text")
    tenant = new_tenant()
    note_id = upstream.add(tenant.uuid)

    assert run(upstream).counts == counts(imported=1)
    assert Note.objects.get(pk=note_id).tenant_uuid == tenant.uuid


@pytest.mark.django_db
def test_the_source_comes_from_upstreams_db_variables(upstream, monkeypatch):
    tenant = new_tenant()
    upstream.add(tenant.uuid)
    parts = conninfo_to_dict(upstream.url)
    for name, keyword in importing.SOURCE_ENV.items():
        monkeypatch.setenv(name, str(parts.get(keyword, "")))

    assert run(None).counts == counts(imported=1)


@pytest.mark.django_db
def test_without_a_source_nothing_is_read(monkeypatch):
    for name in importing.SOURCE_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CommandError, match="no source database"):
        run(None)


@pytest.mark.django_db
def test_a_table_that_is_not_upstreams_is_refused(upstream):
    upstream.connection.execute("ALTER TABLE notes DROP COLUMN flag")
    with pytest.raises(CommandError, match="no column flag"):
        run(upstream)


@pytest.mark.django_db
def test_off_a_terminal_progress_is_a_line_per_tenth_and_the_count_is_printed(upstream):
    tenant = new_tenant()
    for _ in range(10):
        upstream.add(tenant.uuid)

    result = run(upstream, "--batch-size", "5")

    assert result.err.splitlines() == [
        "notes: 5/10 source rows read",
        "notes: 10/10 source rows read",
    ]
    assert result.counts == counts(imported=10)
    assert run(upstream, "--no-progress").err == ""


# --- tenants -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_tenant_stops_the_import_before_anything_is_written(
    upstream, no_tenants_service
):
    known = new_tenant()
    unknown = uuid.uuid4()
    upstream.add(known.uuid)
    upstream.add(unknown)

    with pytest.raises(CommandError, match=f"unknown tenant ids in the source: {unknown}"):
        run(upstream)

    assert not Note.objects.exists()
    assert list(Tenant.objects.all()) == [known]


@pytest.mark.django_db
def test_a_soft_deleted_note_of_an_unknown_tenant_needs_no_tenant(upstream, no_tenants_service):
    upstream.add(uuid.uuid4(), deleted_at=dt.datetime(2025, 2, 1, tzinfo=UTC))
    assert run(upstream).counts == counts(deleted=1)
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_a_tenant_named_on_the_command_line_is_created_as_the_project_creates_tenants(
    upstream, no_tenants_service
):
    tenant_id = uuid.uuid4()
    note_id = upstream.add(tenant_id)

    result = run(upstream, "--tenant", f"{tenant_id}=JMS:185.1")

    assert result.counts == counts(imported=1)
    key = TenantKey(tenant_id, "JMS", 185, 1)
    assert f"tenant created: {key}" in result.out
    assert Note.objects.get(pk=note_id).tenant == tenant_row(key)
    assert run(upstream, "--tenant", f"{tenant_id}=JMS:185.1").out.count("tenant created") == 0


@pytest.mark.django_db
def test_a_tenant_we_have_is_used_whatever_the_command_line_says(upstream, no_tenants_service):
    tenant = new_tenant(region="GMS", major=83, minor=1)
    note_id = upstream.add(tenant.uuid)

    result = run(upstream, "--tenant", f"{tenant.uuid}=JMS:185.1")

    assert "tenant created" not in result.out
    assert Note.objects.get(pk=note_id).tenant == tenant
    assert list(Tenant.objects.all()) == [tenant]


@pytest.mark.django_db
def test_a_malformed_tenant_option_is_refused(upstream):
    with pytest.raises(CommandError, match=r"expected UUID=REGION:MAJOR\.MINOR"):
        run(upstream, "--tenant", "GMS:83.1")


@pytest.mark.django_db
def test_unknown_tenants_are_looked_up_in_the_tenants_service(upstream, fake_services):
    tenant_id = uuid.uuid4()
    note_id = upstream.add(tenant_id)
    fake_services.put(
        "tenants",
        {
            "data": [
                {
                    "type": "tenants",
                    "id": str(uuid.uuid4()),
                    "attributes": {"region": "KMS", "majorVersion": 1, "minorVersion": 0},
                },
                {
                    "type": "tenants",
                    "id": str(tenant_id),
                    "attributes": {"region": "GMS", "majorVersion": 87, "minorVersion": 1},
                },
            ]
        },
    )

    result = run(upstream)

    assert result.counts == counts(imported=1)
    assert Note.objects.get(pk=note_id).tenant.key == TenantKey(tenant_id, "GMS", 87, 1)
    assert Tenant.objects.count() == 1  # only the tenant that has notes


# --- served like a native note -----------------------------------------------------------


def test_an_imported_note_is_served_over_rest_like_a_native_one(upstream, api):
    tenant = tenant_row(api.tenant)
    stamp = dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    note_id = upstream.add(
        api.tenant.id, character_id=200, sender_id=100, message="Hi", flag=1, timestamp=stamp
    )
    run(upstream)

    response = api.get(f"/api/notes/{note_id}")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "data": {
            "type": "notes",
            "id": str(note_id),
            "attributes": {
                "characterId": 200,
                "senderId": 100,
                "message": "Hi",
                "flag": 1,
                "timestamp": wire.go_time(stamp),
            },
        }
    }
    listing = api.get("/api/characters/200/notes").json()
    assert [item["id"] for item in listing["data"]] == [str(note_id)]
    # A note written after the import comes after it, with a new id.
    created = api.post(
        "/api/notes",
        json={
            "data": {
                "type": "notes",
                "id": "0",
                "attributes": {"characterId": 200, "senderId": 100, "message": "new", "flag": 0},
            }
        },
    )
    assert created.status_code == 200, created.content
    assert int(created.json()["data"]["id"]) > note_id
    assert Note.objects.filter(tenant=tenant).count() == 2
