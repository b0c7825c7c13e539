"""``bus.emit``: an outbound record is an outbox row written in the caller's transaction."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from project.messaging import bus, wire
from project.messaging.errors import Record
from project.messaging.models import OutboxMessage, store_headers
from tests.support import new_tenant

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "EVENT_TOPIC_PLATFORM_BUS"
PARENT = wire.TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


@pytest.fixture
def resolved_topic(monkeypatch):
    """The token resolves through the environment, as in the ``main`` overlay."""
    monkeypatch.setenv(TOKEN, f"{TOKEN}-main")
    wire.topic_name.cache_clear()
    yield f"{TOKEN}-main"
    wire.topic_name.cache_clear()


def status(n: int = 1, **extra) -> dict:
    return {"transactionId": "t-1", "characterId": n, "type": "CREATED", "body": {}, **extra}


def names(row: OutboxMessage) -> list[str]:
    return [name for name, _ in row.header_list]


def test_emit_outside_a_transaction_raises():
    tenant = new_tenant()

    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())

    # (of this tenant: an e2e stack's beat may write its own rows meanwhile)
    assert not OutboxMessage.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("key", [b"", None])
def test_emit_with_an_empty_key_raises(key):
    tenant = new_tenant()

    with pytest.raises(ValueError, match="key must not be empty"), transaction.atomic():
        bus.emit(tenant=tenant, topic=TOKEN, key=key, value=status())

    assert not OutboxMessage.objects.exists()


def test_emit_writes_the_resolved_topic_key_exact_bytes_and_headers(resolved_topic):
    # given a tenant and a handled message's cause (environment and trace)
    tenant = new_tenant(major=185, minor=1)
    value = status(5001, note="<&>", text="é")

    # when a record is emitted in a transaction that commits
    with transaction.atomic(), bus.caused_by(bus.Cause("main", PARENT)):
        returned = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(5001), value=value)

    # then one committed outbox row holds exactly what the relay will publish
    row = OutboxMessage.objects.get()
    assert row.pk == returned.pk
    assert row.topic == resolved_topic
    assert bytes(row.key) == bytes.fromhex("8913000000000000")
    assert bytes(row.value) == wire.dumps(value)
    assert bytes(row.value) == (
        b'{"transactionId":"t-1","characterId":5001,"type":"CREATED","body":{},'
        b'"note":"\\u003c\\u0026\\u003e","text":"' + "é".encode() + b'"}'
    )
    assert row.message_type == "CREATED"
    assert row.tenant_id == tenant.pk
    assert returned.sent_at is None  # (a running relay may publish the committed row at once)
    # and the headers are trace, tenant (binary versions), environment
    assert names(row) == [
        "traceparent",
        "TENANT_ID",
        "REGION",
        "MAJOR_VERSION",
        "MINOR_VERSION",
        "ENVIRONMENT",
    ]
    headers = row.header_list
    assert headers[1:5] == tenant.key.kafka_headers()
    assert dict(headers)["MAJOR_VERSION"] == b"\x00\xb9"
    assert headers[5] == ("ENVIRONMENT", b"main")
    trace = wire.TraceParent.parse(headers[0][1])
    assert trace.trace_id == PARENT.trace_id
    assert trace.span_id != PARENT.span_id
    # and they are stored base64, so non-UTF-8 version bytes survive
    assert row.headers == store_headers(headers)


def test_a_rolled_back_transaction_leaves_no_row():
    tenant = new_tenant()

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())
        1 / 0  # noqa: B018 - the domain change fails after the emit

    assert not OutboxMessage.objects.exists()


def test_a_rolled_back_savepoint_drops_only_its_rows():
    tenant = new_tenant()

    with transaction.atomic():
        bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status(1))
        try:
            with transaction.atomic():
                bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(2), value=status(2))
                raise ValueError
        except ValueError:
            pass
        bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(3), value=status(3))

    assert [
        bytes(k) for k in OutboxMessage.objects.order_by("id").values_list("key", flat=True)
    ] == [
        wire.key_u32(1),
        wire.key_u32(3),
    ]


def test_caused_by_sets_environment_and_keeps_the_trace_id():
    tenant = new_tenant()

    with transaction.atomic(), bus.caused_by(bus.Cause("pr-1", PARENT)):
        first = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())
        second = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())

    traces = []
    for row in (first, second):
        headers = dict(row.header_list)
        assert headers["ENVIRONMENT"] == b"pr-1"
        traces.append(wire.TraceParent.parse(headers["traceparent"]))
    assert {t.trace_id for t in traces} == {PARENT.trace_id}
    assert len({t.span_id for t in traces} | {PARENT.span_id}) == 3


def test_a_cause_without_environment_or_trace_adds_neither_header():
    tenant = new_tenant()

    with transaction.atomic(), bus.caused_by(bus.Cause("", None)):
        row = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())

    assert row.header_list == tenant.key.kafka_headers()


def test_without_a_cause_the_pods_environment_and_a_new_root_trace_are_used(settings):
    # given a deployment environment and no handled message (a beat task, the admin)
    settings.ATLAS_ENVIRONMENT = "main"
    tenant = new_tenant()

    # when two records are emitted
    with transaction.atomic():
        first = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())
        second = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(2), value=status())

    # then each carries ENVIRONMENT main and a valid trace of its own
    traces = []
    for row in (first, second):
        headers = dict(row.header_list)
        assert headers["ENVIRONMENT"] == b"main"
        trace = wire.TraceParent.parse(headers["traceparent"])
        assert trace is not None and trace.flags == "01"
        traces.append(trace.trace_id)
    assert traces[0] != traces[1]


def test_without_a_cause_and_no_pod_environment_there_is_no_environment_header(settings):
    settings.ATLAS_ENVIRONMENT = ""
    tenant = new_tenant()

    with transaction.atomic():
        row = bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(1), value=status())

    assert names(row) == ["traceparent", "TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"]


def test_caused_by_is_undone_on_exit_even_after_an_error(settings):
    settings.ATLAS_ENVIRONMENT = "pod"
    outer = bus.Cause("outer", PARENT)

    with bus.caused_by(outer):
        with pytest.raises(KeyError), bus.caused_by(bus.Cause("inner", None)):
            assert bus.current_cause().environment == "inner"
            raise KeyError
        assert bus.current_cause() is outer

    assert bus.current_cause().environment == "pod"


def test_message_type_is_the_values_type_cut_to_64_characters():
    tenant = new_tenant()

    with transaction.atomic():
        long = bus.emit(tenant=tenant, topic=TOKEN, key=b"k", value={"type": "X" * 100})
        untyped = bus.emit(tenant=tenant, topic=TOKEN, key=b"k", value={"a": 1})

    assert long.message_type == "X" * 64
    assert untyped.message_type == ""
    assert bytes(untyped.value) == b'{"a":1}'


def test_the_relay_is_woken_once_per_transaction_after_commit():
    tenant = new_tenant()

    with transaction.atomic():
        for n in range(3):
            bus.emit(tenant=tenant, topic=TOKEN, key=wire.key_u32(n), value=status(n))
        callbacks = [func for _, func, _ in connection.run_on_commit]

    assert callbacks.count(bus.wake_relay) == 1
    assert OutboxMessage.objects.count() == 3


def test_a_record_over_the_producers_limit_is_refused_and_its_transaction_rolls_back():
    """Issue 23: a record the producer could not send is never stored (the relay
    would park it): emit raises, so the state that caused it rolls back too."""
    tenant = new_tenant()
    headroom = 1000  # key, headers and kafka-python's batch overhead
    fits = {"type": "X", "body": "a" * (bus.MAX_RECORD_BYTES - headroom)}
    too_large = {"type": "X", "body": "a" * bus.MAX_RECORD_BYTES}
    with transaction.atomic():
        bus.emit(tenant=tenant, topic="EVENT_TOPIC_X", key=b"1", value=fits)
    with pytest.raises(bus.RecordTooLarge), transaction.atomic():
        bus.emit(tenant=tenant, topic="EVENT_TOPIC_X", key=b"1", value={"type": "X"})
        bus.emit(tenant=tenant, topic="EVENT_TOPIC_X", key=b"1", value=too_large)
    assert OutboxMessage.objects.count() == 1
    assert isinstance(bus.RecordTooLarge("x"), ValueError)  # a dead letter at once


def test_emit_many_writes_what_emit_would_in_the_order_given_a_batch_an_insert(monkeypatch):
    """The tick's bulk form: rows like ``emit``'s (headers, environment, the cause's
    trace with a span each), ids in the order given across tenants, one INSERT per
    ``ROWS_PER_INSERT`` rows, one wake-up of the relay."""
    monkeypatch.setattr(bus, "ROWS_PER_INSERT", 2)
    first, second = new_tenant(), new_tenant(major=185)
    records = [
        (tenant, Record(TOKEN, wire.key_u32(n), status(n)))
        for n, tenant in enumerate([first, second, first, first, second], start=1)
    ]

    with (
        CaptureQueriesContext(connection) as context,
        transaction.atomic(),
        bus.caused_by(bus.Cause("pr-1", PARENT)),
    ):
        returned = bus.emit_many(records)
        callbacks = [func for _, func, _ in connection.run_on_commit]

    inserts = [q for q in context.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 3
    assert callbacks.count(bus.wake_relay) == 1
    rows = list(OutboxMessage.objects.order_by("id"))
    assert [row.pk for row in rows] == [row.pk for row in returned]
    assert [(row.tenant_id, bytes(row.key), bytes(row.value)) for row in rows] == [
        (tenant.pk, record.key, wire.dumps(record.value)) for tenant, record in records
    ]
    spans = set()
    for row, (tenant, _) in zip(rows, records, strict=True):
        headers = row.header_list
        assert headers[1:5] == tenant.key.kafka_headers()
        assert headers[5] == ("ENVIRONMENT", b"pr-1")
        trace = wire.TraceParent.parse(headers[0][1])
        assert trace.trace_id == PARENT.trace_id
        spans.add(trace.span_id)
        assert row.message_type == "CREATED"
    assert len(spans) == 5


def test_emit_many_without_a_cause_gives_each_record_its_own_root_trace():
    tenant = new_tenant()
    with transaction.atomic():
        rows = bus.emit_many([(tenant, Record(TOKEN, wire.key_u32(n), status(n))) for n in (1, 2)])
    traces = {wire.TraceParent.parse(dict(r.header_list)["traceparent"]).trace_id for r in rows}
    assert len(traces) == 2


def test_emit_many_writes_nothing_when_one_record_is_over_the_limit():
    tenant = new_tenant()
    too_large = {"type": "X", "body": "a" * bus.MAX_RECORD_BYTES}
    with pytest.raises(bus.RecordTooLarge), transaction.atomic():
        bus.emit_many(
            [
                (tenant, Record(TOKEN, b"1", status(1))),
                (tenant, Record(TOKEN, b"2", too_large)),
            ]
        )
    assert not OutboxMessage.objects.exists()

    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        bus.emit_many([(tenant, Record(TOKEN, b"1", status(1)))])
