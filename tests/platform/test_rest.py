"""The REST package through the real HTTP server, with the echo app's test routes."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from project.messaging import wire
from project.messaging.models import OutboxMessage
from tests.echo.handlers import COMMAND_TOPIC_ECHO


def test_a_single_resource_has_relationship_links_and_included_members(rest):
    response = rest.get("/api/echo/groups/5")
    assert response.status_code == 200
    assert response.content == (
        b'{"data":{"type":"groups","id":"5","attributes":{"leaderId":7},'
        b'"relationships":{"members":{"links":{"related":"/api/groups/5/members",'
        b'"self":"/api/groups/5/relationships/members"},'
        b'"data":[{"type":"members","id":"7"},{"type":"members","id":"8"}]}}},'
        b'"included":[{"type":"members","id":"7","attributes":{"name":"c7","level":1}},'
        b'{"type":"members","id":"8","attributes":{"name":"c8","level":1}}]}'
    )


def test_included_resources_of_a_list_appear_once(rest):
    body = rest.get("/api/echo/groups").json()
    assert [(r["type"], r["id"]) for r in body["included"]] == [
        ("members", "1"),
        ("members", "7"),
        ("members", "2"),
    ]
    assert list(body) == ["links", "data", "included", "meta"]


def test_fieldsets_apply_to_included_resources(rest):
    body = rest.get("/api/echo/groups/5?fields[members]=level").json()
    assert body["included"][0]["attributes"] == {"level": 1}
    assert body["data"]["attributes"] == {"leaderId": 7}


def test_not_found_is_a_404_with_an_empty_json_body(rest):
    response = rest.get("/api/echo/groups/404")
    assert (response.status_code, response.content) == (404, b"")
    assert response.headers["content-type"] == "application/json"


def test_a_defect_is_a_500_with_the_library_error_body(rest):
    response = rest.get("/api/echo/fails")
    assert response.status_code == 500
    assert response.content == b'{"errors":[{"status":"500","title":"internal server error"}]}'


def test_a_command_body_is_buffered_with_the_kafka_tenant_and_answered_202(rest, tenant_key):
    document = {"data": {"type": "pings", "id": "42", "attributes": {"name": "x", "level": 3}}}
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = rest.post(
        "/api/echo/pings", json=document, headers={"ENVIRONMENT": "main", "traceparent": trace}
    )
    assert (response.status_code, response.content) == (202, b"")
    assert response.headers["content-type"] == "application/json"
    row = OutboxMessage.objects.get(tenant__uuid=tenant_key.id)
    assert row.topic == wire.topic_name(COMMAND_TOPIC_ECHO)
    assert bytes(row.key) == wire.key_u32(42)
    assert wire.loads(bytes(row.value)) == {"type": "PING", "body": {"id": 42, "seq": 3}}
    headers = dict(row.header_list)
    assert headers["MAJOR_VERSION"] == b"\x00\x53"  # binary on Kafka, decimal on HTTP
    assert headers["ENVIRONMENT"] == b"main"
    assert headers["traceparent"].startswith(b"00-4bf92f3577b34da6a3ce929d0e0e4736-")


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b'{"data":{"type":"other","id":"1","attributes":{}}}',
        b'{"data":{"id":"1","attributes":{}}}',
        b'{"data":{"type":"pings","attributes":{}}}',
        b'{"data":{"type":"pings","id":"x","attributes":{}}}',
        b'{"data":{"type":"pings","id":"1","attributes":{"level":"3"}}}',
        b'{"data":{"type":"pings","id":"1","attributes":{"level":-1}}}',
        b'{"data":[]}',
    ],
)
def test_an_undecodable_body_is_a_400_with_an_empty_body_and_no_command(rest, tenant_key, document):
    response = rest.post("/api/echo/pings", content=document)
    assert (response.status_code, response.content) == (400, b"")
    assert not OutboxMessage.objects.filter(tenant__uuid=tenant_key.id).exists()


@pytest.mark.parametrize(
    ("path", "document", "reason"),
    [
        # a create without data.id (Go clients send "0"): upstream's 400, empty body
        (
            "/api/parties",
            b'{"data":{"type":"parties","attributes":{}}}',
            "data.id '' is not a decimal integer",
        ),
        ("/api/echo/pings", b'{"data":{"type":"pings","attributes":{}}}', "data.id ''"),
        ("/api/echo/pings", b"not json", "the body is not JSON"),
        ("/api/echo/pings", b'{"data":[]}', "no data object"),
        ("/api/echo/pings", b'{"data":{"type":"other","id":"1"}}', "data.type is 'other'"),
        (
            "/api/echo/pings",
            b'{"data":{"type":"pings","id":"1","attributes":{"level":"3"}}}',
            "data.attributes: {'level'",
        ),
    ],
)
def test_a_refused_body_is_an_empty_400_whose_reason_is_logged(
    db, tenant_key, caplog, path, document, reason
):
    with caplog.at_level(logging.WARNING, logger="project.rest"):
        response = Client().post(
            path, data=document, content_type="application/json", headers=tenant_key.http_headers()
        )

    assert (response.status_code, response.content) == (400, b"")
    (logged,) = [r for r in caplog.records if r.name == "project.rest.inputs"]
    assert logged.levelno == logging.WARNING
    assert f"POST {path}: request body refused (400): " in logged.getMessage()
    assert reason in logged.getMessage()
