"""Helpers every app's tests import: tenants, characters, emitted records, query counts.

One set for all apps: what an app's tests need beyond this (its commands, its cached
rows, its topics' vocabulary) lives in that app's ``support.py``.
"""

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
from project.messaging import registry, wire
from project.messaging.models import InboxMessage, OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row
from tests.fake_services import FakeServices
from tests.waiting import wait_until

NIL = "00000000-0000-0000-0000-000000000000"


def new_tenant(
    region: str = "GMS", major: int = 83, minor: int = 1, *, tenant_uuid: uuid.UUID | None = None
) -> Tenant:
    """A tenant row; a fresh UUID unless given (a test that needs two versions of one
    tenant, or the example tenant id, gives it)."""
    return Tenant.objects.create(
        uuid=tenant_uuid or uuid.uuid4(), region=region, major_version=major, minor_version=minor
    )


def header_dict(tenant: Tenant | TenantKey) -> dict[str, bytes]:
    """The tenant headers an emitted record carries, by name (as ``Emitted.headers``)."""
    key = tenant.key if isinstance(tenant, Tenant) else tenant
    return dict(key.kafka_headers())


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


def character_status(
    type_: str, character_id: int, *, world_id: int = 0, tx: uuid.UUID | None = None, **body
) -> dict:
    """An event of atlas-character's status topic, as the apps consume it."""
    return {
        "transactionId": str(tx or uuid.uuid4()),
        "worldId": world_id,
        "characterId": character_id,
        "type": type_,
        "body": body,
    }


@dataclass(frozen=True)
class Emitted:
    """One outbox row (an outgoing record the relay publishes), decoded."""

    topic: str  # the resolved topic name
    key: bytes
    raw: bytes  # the value's exact bytes, for byte-for-byte assertions
    headers: dict[str, bytes]  # by name, without the trace (its value is random)

    @property
    def value(self) -> dict:
        return json.loads(self.raw)

    @property
    def type(self) -> str:
        return str(self.value.get("type", ""))

    @property
    def token(self) -> str:
        """The topic's token (``messages.EVENT_TOPIC_…``), as the tests name topics."""
        return registry.setting_of(self.topic) or self.topic


def outbox_rows(
    token: str | None = None, tenant: Tenant | TenantKey | None = None
) -> list[OutboxMessage]:
    """Outbox rows of topic ``token`` (every topic without one) and of one tenant, in
    emission order."""
    rows = OutboxMessage.objects.order_by("id")
    if token is not None:
        rows = rows.filter(topic=wire.topic_name(token))
    if isinstance(tenant, Tenant):
        rows = rows.filter(tenant=tenant)
    elif isinstance(tenant, TenantKey):
        rows = rows.filter(tenant__uuid=tenant.id)
    return list(rows)


def emitted(token: str | None = None, tenant: Tenant | TenantKey | None = None) -> list[Emitted]:
    """Records buffered for topic ``token`` (every topic without one) and of one tenant,
    in emission order."""
    return [
        Emitted(
            row.topic,
            bytes(row.key),
            bytes(row.value),
            {name: raw for name, raw in row.header_list if name != wire.TRACEPARENT},
        )
        for row in outbox_rows(token, tenant)
    ]


def values(token: str, tenant: Tenant | TenantKey | None = None) -> list[dict]:
    """The decoded values of topic ``token``'s records, in emission order."""
    return [record.value for record in emitted(token, tenant)]


def sent_by(tenant: Tenant, token: str | None = None) -> list[tuple[str, bytes, dict]]:
    """(topic token, key, value) of every record the tenant emitted (of one topic, with
    ``token``), in emission order: what a test compares whole."""
    return [(record.token, record.key, record.value) for record in emitted(token, tenant)]


def clear_outbox(tenant: Tenant) -> None:
    """Forget what the tenant emitted so far (a test then looks at what comes next)."""
    OutboxMessage.objects.filter(tenant=tenant).delete()


def dead_letters(app: str, marker: str, count: int) -> list[InboxMessage]:
    """Wait until the app has stored ``count`` dead inbox rows whose raw value carries
    ``marker`` (a test's own bad records); they by topic and offset, the order they
    were produced in per topic."""

    def marked() -> list[InboxMessage]:
        rows = InboxMessage.objects.filter(app=app, state="dead").order_by("topic", "offset")
        return [row for row in rows if marker.encode() in bytes(row.value)]

    return wait_until(
        lambda: (rows := marked()) and len(rows) == count and rows,
        what=f"{count} dead letters of {app} marked {marker}",
    )


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
