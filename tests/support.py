"""Helpers every app's tests import: tenants, characters, emitted records, query counts."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.test.utils import CaptureQueriesContext

from project.directory.models import Character as LocalCharacter
from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row
from tests.fake_services import FakeServices


def new_tenant_key(region: str = "GMS", major: int = 83, minor: int = 1) -> TenantKey:
    return TenantKey(uuid.uuid4(), region, major, minor)


def new_tenant(region: str = "GMS", major: int = 83, minor: int = 1) -> Tenant:
    """A tenant row of its own (a fresh UUID)."""
    return tenant_row(new_tenant_key(region, major, minor))


def given_character(
    tenant_key: TenantKey,
    character_id: int,
    *,
    fake: FakeServices | None = None,
    name: str = "",
    world_id: int = 0,
    level: int = 10,
    job_id: int = 100,
    gm: int = 0,
    channel_id: int = 0,
    map_id: int = 0,
    online: bool = False,
) -> None:
    """A character that the lookups find: in the local directory and, with ``fake``, in the
    stand-in character and maps services (where the e2e stack's processes look)."""
    LocalCharacter.objects.update_or_create(
        tenant=tenant_row(tenant_key),
        character_id=character_id,
        defaults={
            "name": name,
            "world_id": world_id,
            "level": level,
            "job_id": job_id,
            "gm": gm,
            "channel_id": channel_id,
            "map_id": map_id,
            "online": online,
        },
    )
    if fake is not None:
        fake.character(
            tenant_key, character_id, name=name, world_id=world_id, level=level, job_id=job_id,
            gm=gm, channel_id=channel_id, map_id=map_id,
        )  # fmt: skip


@dataclass(frozen=True)
class Emitted:
    """One buffered outgoing record, decoded."""

    topic: str
    key: bytes
    value: dict
    headers: dict[str, bytes]

    @property
    def type(self) -> str:
        return str(self.value.get("type", ""))


def _outbox(token: str, tenant: Tenant | TenantKey | None):
    rows = OutboxMessage.objects.filter(topic=wire.topic_name(token)).order_by("id")
    if isinstance(tenant, Tenant):
        rows = rows.filter(tenant=tenant)
    elif isinstance(tenant, TenantKey):
        rows = rows.filter(tenant__uuid=tenant.id)
    return rows


def emitted(token: str, tenant: Tenant | TenantKey | None = None) -> list[Emitted]:
    """Records buffered for topic ``token`` (of one tenant), in emission order."""
    return [
        Emitted(
            row.topic,
            bytes(row.key),
            json.loads(bytes(row.value)),
            {name: value for name, value in row.header_list},
        )
        for row in _outbox(token, tenant)
    ]


def emitted_bytes(token: str, tenant: Tenant | TenantKey | None = None) -> list[bytes]:
    """The exact value bytes, for byte-for-byte assertions."""
    return [bytes(row.value) for row in _outbox(token, tenant)]


@contextlib.contextmanager
def at_most_queries(limit: int) -> Iterator[CaptureQueriesContext]:
    """Fail if the block runs more than ``limit`` SQL statements (hot paths must not grow)."""
    with CaptureQueriesContext(connection) as captured:
        yield captured
    count = len(captured.captured_queries)
    if count > limit:
        listing = "\n".join(q["sql"] for q in captured.captured_queries)
        raise AssertionError(f"{count} queries, at most {limit} allowed:\n{listing}")


def run_together(calls: list[Callable[[], object]], *, timeout: float = 60.0) -> list[object]:
    """Run each call in its own thread and connection, released at once by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)
    failures: list[BaseException] = []

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, call), name=f"race-{i}")
        for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing call did not finish"
    assert not failures, failures
    return results


@contextlib.contextmanager
def database_refuses_inserts(table: str, text: str = "No space left on device") -> Iterator[None]:
    """The database refuses every insert into ``table`` (a trigger), as a full disk
    or a broken table would: a lasting database error, real on both databases
    (PostgreSQL: SQLSTATE 53100, an OperationalError; SQLite: an aborted statement).
    Inside the test's transaction, so it is gone with it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{text}' USING ERRCODE = '53100'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER test_refuse_insert BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER test_refuse_insert BEFORE INSERT ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{text}'); END"
            )
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER test_refuse_insert ON {table}")
            cursor.execute("DROP FUNCTION test_refuse_insert()")
        else:
            cursor.execute("DROP TRIGGER test_refuse_insert")
