"""REST under hostile input, through the real gunicorn server (issue 23).

Every probe asserts its status and body, and that the database (every table of the
project's apps, the outbox included) did not change when the request was refused.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest
from django.apps import apps

from notes.models import Note
from project.messaging import bus
from project.messaging.models import OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from tests.waiting import wait_until

APPS = ("tenancy", "messaging", "invites", "parties", "messengers", "notes", "transport")
BAD_PAGE = (
    b'{"errors":[{"status":"400","title":"Bad Request",'
    b'"detail":"invalid page[number]/page[size]"}]}'
)
TOO_LARGE = b'{"errors":[{"status":"413","title":"request body too large"}]}'
ROUTE = "00000000-0000-0000-0000-00000000abcd"


# Written by the stack's own periodic work (beat's transport tick takes its lease
# every second), not by requests.
BACKGROUND = {"transport.TickLease"}


def snapshot() -> dict[str, int]:
    """Rows per model of the project's apps (but the periodic work's lease)."""
    return {
        model._meta.label: model.objects.count()
        for label in APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.label not in BACKGROUND
    }


@pytest.fixture
def unchanged():
    """Asserts at the end of the test that no row was added or removed anywhere."""
    before = snapshot()
    yield
    assert snapshot() == before


def note_document(message: str = "hi", *, id_: str = "0") -> dict:
    return {
        "data": {
            "type": "notes",
            "id": id_,
            "attributes": {"characterId": 5, "senderId": 6, "message": message, "flag": 0},
        }
    }


def raw_request(
    url: str, data: bytes, *, timeout: float = 10, sent: threading.Event | None = None
) -> bytes:
    """Send ``data`` as is on a new connection; everything the server answers.
    ``sent`` is set once the bytes are on their way."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(data)
        if sent is not None:
            sent.set()
        received = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received:
                head, _, body = received.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= length[0]:
                    break
        return received


def tenant_lines(key: TenantKey) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in key.http_headers().items())


# --- 1. 500s for bad input ----------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/api/notes"),
    ("PATCH", "/api/notes/1"),
    ("POST", "/api/parties"),
    ("PATCH", "/api/parties/1"),
    ("POST", "/api/parties/1/members"),
    ("POST", "/api/messengers/1/members"),
    ("POST", f"/api/transports/instance-routes/{ROUTE}/start"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_over_the_limit_is_a_413_on_every_body_route(rest, unchanged, method, path):
    body = b'{"data":{"type":"x","id":"1","attributes":{"message":"' + b"a" * 2_600_000 + b'"}}}'
    response = rest.request(method, path, content=body)
    assert (response.status_code, response.content) == (413, TOO_LARGE)
    assert response.headers["content-type"] == "application/json"


def test_a_body_just_within_the_limit_is_read(rest):
    message = "a" * (bus.MAX_RECORD_BYTES - 2000)
    response = rest.post("/api/notes", json=note_document(message))
    assert response.status_code == 200, response.content[:200]


LONG = "1" * 5000


@pytest.mark.parametrize(
    ("method", "path", "document"),
    [
        (
            "POST",
            "/api/parties",
            {
                "data": {
                    "type": "parties",
                    "id": "0",
                    "attributes": {"leaderId": 0},
                    "relationships": {"members": {"data": [{"type": "members", "id": LONG}]}},
                }
            },
        ),
        ("POST", "/api/parties/1/members", {"data": {"type": "members", "id": LONG}}),
        ("POST", "/api/messengers/1/members", {"data": {"type": "members", "id": LONG}}),
        ("PATCH", "/api/notes/1", note_document(id_=LONG)),
        ("POST", "/api/notes", note_document(id_=LONG)),
    ],
)
def test_an_id_of_thousands_of_digits_is_a_400(rest, unchanged, method, path, document):
    response = rest.request(method, path, json=document)
    assert (response.status_code, response.content) == (400, b"")


# A request line over 4094 bytes is gunicorn's 414 before Django runs.
PATH_LONG = "1" * 3000


@pytest.mark.parametrize(
    "path",
    [
        "/api/parties/" + PATH_LONG,
        "/api/notes/" + PATH_LONG,
        f"/api/parties?filter[members.id]={PATH_LONG}",
        "/api/parties/1/members/" + PATH_LONG,
        "/api/transports/routes?filter[startMapId]=" + PATH_LONG,
    ],
)
def test_a_path_or_filter_id_of_thousands_of_digits_is_a_400(rest, unchanged, path):
    response = rest.get(path)
    assert (response.status_code, response.content) == (400, b"")


def test_too_many_query_parameters_is_a_400(rest, unchanged):
    query = "&".join("a" for _ in range(1100))
    response = rest.get(f"/api/parties?{query}")
    assert (response.status_code, response.content) == (400, b"")


# --- 2. slow bodies ----------------------------------------------------------------


def test_slow_bodies_neither_stall_the_api_nor_store_anything(rest, rest_server, unchanged):
    """Clients that declare 1000 bytes and send 100 hold a thread each for at most
    the 5 s body deadline (408); requests beside them are answered at once."""
    head = (
        b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + tenant_lines(rest.tenant)
        + b"Content-Length: 1000\r\n\r\n"
    )
    answers: list[tuple[float, bytes]] = []

    def slow_client(sent: threading.Event) -> None:
        started = time.monotonic()
        answer = raw_request(rest_server.url, head + b"{" * 100, timeout=15, sent=sent)
        answers.append((time.monotonic() - started, answer))

    stalled = [threading.Event() for _ in range(6)]
    slow = [threading.Thread(target=slow_client, args=(sent,)) for sent in stalled]
    for thread in slow:
        thread.start()
    wait_until(lambda: all(sent.is_set() for sent in stalled), timeout=10,
               what="the slow clients' partial bodies sent")  # fmt: skip
    # while they stall: ordinary requests are answered promptly, 30 of them
    for _ in range(30):
        started = time.monotonic()
        response = rest.get("/api/notes")
        assert response.status_code == 200
        assert time.monotonic() - started < 1.0
    for thread in slow:
        thread.join(15)
    assert len(answers) == 6
    for elapsed, answer in answers:
        assert 4 < elapsed < 8
        assert answer.startswith(b"HTTP/1.1 408 ") or answer == b""


def test_a_trickling_body_is_cut_at_the_deadline(rest, rest_server, unchanged):
    host, port = rest_server.url.removeprefix("http://").split(":")
    head = (
        b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + tenant_lines(rest.tenant)
        + b"Content-Length: 100000\r\n\r\n"
    )
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head)
        answer = b""
        while time.monotonic() - started < 10:
            try:
                conn.sendall(b" ")
            except OSError:
                break
            conn.settimeout(0.5)
            try:
                answer += conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 7


# --- 3. nothing stored that cannot be published ----------------------------------------


def test_a_note_whose_event_is_over_the_record_limit_is_a_400_and_not_stored(rest, unchanged):
    # 300 000 "<" fit the body; Go's JSON writes each as \u003c in the CREATED event
    response = rest.post("/api/notes", json=note_document("<" * 300_000))
    assert (response.status_code, response.content) == (400, b"")


def test_a_note_patched_to_an_unpublishable_message_is_unchanged(rest):
    created = rest.post("/api/notes", json=note_document("first")).json()
    note_id = created["data"]["id"]
    outbox = OutboxMessage.objects.count()
    response = rest.patch(f"/api/notes/{note_id}", json=note_document("<" * 300_000, id_=note_id))
    assert (response.status_code, response.content) == (400, b"")
    assert Note.objects.get(pk=note_id).message == "first"
    assert OutboxMessage.objects.count() == outbox


def test_a_1_5_mb_note_is_a_413_and_not_stored(rest, unchanged):
    response = rest.post("/api/notes", json=note_document("m" * 1_500_000))
    assert (response.status_code, response.content) == (413, TOO_LARGE)


# --- 4. the nil tenant -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "document"),
    [
        ("GET", "/api/notes", None),
        ("POST", "/api/notes", note_document()),
        ("GET", "/api/transports/routes", None),
        ("POST", f"/api/transports/instance-routes/{ROUTE}/start", None),
    ],
)
def test_the_nil_tenant_is_refused(rest, unchanged, method, path, document):
    headers = {"TENANT_ID": "00000000-0000-0000-0000-000000000000"}
    response = rest.request(method, path, json=document, headers=headers)
    assert (response.status_code, response.content) == (400, b"")


# --- 5. rejected requests and reads create nothing -----------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/parties/abc",
        "/api/transports/routes?page[size]=0",
        "/api/transports/routes",
        "/api/transports/instance-routes",
        "/api/notes",
        "/api/parties",
        "/api/messengers",
        "/api/characters/5/invites",
        "/api/characters/5/notes",
    ],
)
def test_reads_and_rejected_reads_of_a_new_tenant_store_nothing(rest, unchanged, path):
    response = rest.get(path)
    assert response.status_code in (200, 400)
    if "page[size]=0" in path:
        assert response.content == BAD_PAGE
    assert not Tenant.objects.filter(uuid=rest.tenant.id).exists()


@pytest.mark.parametrize(
    ("method", "path", "document"),
    [
        ("POST", "/api/notes", {"data": {"type": "notes", "id": "0", "attributes": {}}}),
        ("POST", "/api/parties", {"data": {"type": "parties"}}),
        ("DELETE", "/api/notes/77", None),
        ("POST", f"/api/transports/instance-routes/{ROUTE}/start", {"data": {}}),
        (
            "POST",
            f"/api/transports/instance-routes/{ROUTE}/start",
            {"data": {"type": "start-transport", "attributes": {"characterId": 1}}},
        ),
    ],
)
def test_rejected_writes_of_a_new_tenant_store_nothing(rest, unchanged, method, path, document):
    response = rest.request(method, path, json=document)
    assert response.status_code in (400, 500)


# --- 6. parsed as Go parses -------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"MAJOR_VERSION": "8_3"},
        {"MAJOR_VERSION": "٨٣".encode()},  # Arabic-Indic digits: int() takes them
        {"MAJOR_VERSION": "9" * 5000},
        {"TENANT_ID": "{0838-39c6c47c42a6958576492795d123}"},
        {"TENANT_ID": "0838-39c6-c47c-42a6-958576492795d123"},
        {"TENANT_ID": "0x083839c6c47c42a6958576492795d123"},
    ],
)
def test_tenant_headers_python_would_take_and_go_refuses_are_a_400(rest, unchanged, headers):
    response = rest.get("/api/notes", headers=headers)
    assert (response.status_code, response.content) == (400, b"")


def test_a_region_that_is_not_utf8_is_a_400(rest, rest_server, unchanged):
    request = (
        b"GET /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + tenant_lines(rest.tenant).replace(b"REGION: GMS", b"REGION: GM\xff")
        + b"\r\n"
    )
    answer = raw_request(rest_server.url, request)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_forms_go_accepts_name_the_same_tenant(rest, tenant_key):
    created = rest.post("/api/notes", json=note_document()).json()["data"]["id"]
    hex_id = tenant_key.id.hex
    for headers in [
        {"MAJOR_VERSION": "+83", "MINOR_VERSION": "01"},
        {"TENANT_ID": "{" + str(tenant_key.id) + "}"},
        {"TENANT_ID": "urn:uuid:" + str(tenant_key.id).upper()},
        {"TENANT_ID": hex_id},
    ]:
        response = rest.get("/api/notes", headers=headers)
        assert response.status_code == 200, headers
        assert [n["id"] for n in response.json()["data"]] == [created], headers
    assert Tenant.objects.filter(uuid=tenant_key.id).count() == 1


def test_a_repeated_page_number_takes_the_first_as_go(rest):
    for _ in range(3):
        rest.post("/api/notes", json=note_document())
    body = rest.get("/api/notes?page[size]=1&page[number]=2&page[number]=3").json()
    assert body["meta"]["page"]["number"] == 2


@pytest.mark.parametrize(
    "query",
    ["page[number]=18446744073709551616", "page[number]=9223372036854775808", "page[size]=1_0"],
)
def test_page_numbers_beyond_int64_are_a_400(rest, unchanged, query):
    response = rest.get(f"/api/notes?{query}")
    assert (response.status_code, response.content) == (400, BAD_PAGE)


def test_ids_are_atoi_then_uint32_as_upstream(rest):
    """Upstream reads ids with strconv.Atoi and a uint32 cast (server.ParseIntId):
    4294967296 is 0, -1 is 4294967295, +1 and 01 are 1; beyond int64 is a 400."""
    first = rest.post("/api/notes", json=note_document()).json()["data"]["id"]
    wrapped = str(int(first) + 2**32)
    for form in [first, "+" + first, "0" + first, wrapped]:
        response = rest.get(f"/api/notes/{form}")
        assert response.status_code == 200, form
        assert response.json()["data"]["id"] == first
    assert rest.get("/api/notes/9223372036854775808").status_code == 400
    assert rest.get("/api/notes/-9223372036854775809").status_code == 400


# --- 7. probes and errors -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/readyz", "/api/metrics", "/api/debug/consumers"])
def test_health_and_metrics_answer_whatever_the_host(rest, path):
    response = rest.get(path, tenant=False, headers={"Host": "10.1.2.3:8080"})
    if path == "/api/readyz":
        assert (response.status_code, response.content) in [(200, b"ready"), (503, b"not ready")]
    else:
        assert response.status_code == 200


def test_api_routes_answer_whatever_the_host_and_the_admin_checks_it(rest):
    assert rest.get("/api/notes", headers={"Host": "10.1.2.3"}).status_code == 200
    assert rest.get("/admin/login/", tenant=False, headers={"Host": "10.1.2.3"}).status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/notes"),
        ("POST", "/api/parties/1/members/2"),
        ("DELETE", "/api/transports/routes"),
        ("POST", "/api/readyz"),
    ],
)
def test_a_405_is_typed_json(rest, unchanged, method, path):
    response = rest.request(method, path)
    assert (response.status_code, response.content) == (405, b"")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["allow"]


def test_a_chunked_body_is_read(rest):
    def chunks():
        text = json.dumps(note_document("chunked")).encode()
        yield text[:10]
        yield text[10:]

    response = rest.http.post("/api/notes", content=chunks(), headers=rest.headers())
    assert response.status_code == 200, response.content
    assert Note.objects.get(pk=response.json()["data"]["id"]).message == "chunked"


def test_a_chunked_body_over_the_limit_is_a_413(rest, unchanged):
    def chunks():
        for _ in range(40):
            yield b"a" * 65536

    response = rest.http.post("/api/notes", content=chunks(), headers=rest.headers())
    assert (response.status_code, response.content) == (413, TOO_LARGE)


def test_a_kafka_create_whose_event_is_too_large_is_answered_create_failed(transactional_db):
    from notes import services
    from project.tenancy.rows import tenant_row

    tenant = tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))
    result = services.note_create_command(
        tenant=tenant,
        transaction_id=uuid.uuid4(),
        character_id=5,
        sender_id=6,
        message="<" * 300_000,
        flag=0,
    )
    assert result is None
    assert not Note.objects.exists()
    (row,) = OutboxMessage.objects.all()
    event = json.loads(bytes(row.value))
    assert event["type"] == "CREATE_FAILED"
    assert "limit of the producer" in event["body"]["reason"]
