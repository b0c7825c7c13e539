"""The OpenAPI document (project.rest.openapi) against the URL conf and the live server.

Every route the URL conf serves is in the document and nothing else; the document is
valid OpenAPI 3.1; docs/openapi.json is what ``manage.py openapi`` writes today; and
schemathesis, sending requests drawn from the document to the real server, finds no
5xx the document does not declare and no answer that breaks the document (status,
content type, body schema), on seeded resources of every kind as well as on
generated ids.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import schemathesis
from django.urls import get_resolver
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi import checks

from invites import services as invite_services
from messengers import services as messenger_services
from notes import services as note_services
from parties import services as party_services
from project.messaging.management.commands.openapi import every_service_document
from project.rest import openapi
from project.tenancy.rows import tenant_row
from project.urls import api_urlpatterns
from tests.messengers.support import CAST
from tests.parties.support import cache
from transport import clock, lookups
from transport import services as transport_services
from transport.models import InstanceRoute, Route

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


def _served_routes(patterns) -> dict[str, set[str]]:
    """Per path under /api/ as the URL conf matches it, the methods it answers (those a
    ``rest.route`` lists; other views say theirs in their description)."""
    found: dict[str, set[str]] = {}
    for route, callback in openapi.walk(patterns):
        if not route.startswith("api/") or getattr(callback, "api_redirect", False):
            continue
        declared = getattr(callback, "api_route", None)
        methods = (
            {m.lower() for m in declared.methods}
            if declared is not None
            else set(callback.openapi[1])
        )
        found[openapi.openapi_path(route)] = methods
    return found


def _documented(document: dict) -> dict[str, set[str]]:
    return {path: set(item) & METHODS for path, item in document["paths"].items()}


def test_every_route_served_is_documented_and_nothing_else():
    patterns = get_resolver().url_patterns
    served = _served_routes(patterns)
    assert "/api/parties/{partyId}/members/{memberId}" in served  # the walk reaches includes
    assert _documented(openapi.running_document()) == served


def test_every_strict_slash_redirect_belongs_to_a_documented_path():
    documented = openapi.running_document()["paths"]
    for route, callback in openapi.walk(get_resolver().url_patterns):
        if getattr(callback, "api_redirect", False):
            assert openapi.openapi_path(route).rstrip("/") in documented, route


def test_a_deployment_documents_only_the_services_it_runs():
    document = openapi.build(api_urlpatterns(["notes"], []))
    services = {path.split("/")[2] for path in document["paths"]}
    assert "/api/notes/{noteId}" in document["paths"]
    assert "/api/characters/{characterId}/notes" in document["paths"]
    assert "/api/characters/{characterId}/invites" not in document["paths"]
    assert services == {"notes", "characters", "readyz", "metrics", "debug", "openapi.json", "docs"}


def test_every_operation_declares_its_success_answer_and_tenant_headers():
    document = json.loads(COMMITTED.read_text())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            successes = [status for status in operation["responses"] if status.startswith("2")]
            assert successes, (method, path)
            untenanted = ("/api/readyz", "/api/metrics", "/api/debug", "/api/docs", "/api/openapi")
            if not path.startswith(untenanted):
                refs = [p.get("$ref", "") for p in operation.get("parameters", [])]
                assert "#/components/parameters/TENANT_ID" in refs, (method, path)


def test_the_documents_are_valid_openapi_3_1():
    validate(openapi.running_document())
    committed = json.loads(COMMITTED.read_text())
    assert committed["openapi"] == "3.1.0"
    validate(committed)


def test_docs_openapi_json_is_what_the_command_writes_today():
    """Regenerate with ``manage.py openapi --output docs/openapi.json`` (docs/api.md)."""
    assert COMMITTED.read_text(encoding="utf-8") == every_service_document()


def test_the_server_serves_its_document_and_the_page(rest):
    document = rest.get("/api/openapi.json", tenant=False)
    assert document.status_code == 200
    assert document.headers["Content-Type"] == "application/json"
    assert document.json() == json.loads(openapi.dumps(openapi.running_document()))
    page = rest.get("/api/docs", tenant=False)
    assert page.status_code == 200
    assert b"/api/openapi.json" in page.content
    for name, media in openapi.ASSETS.items():
        asset = rest.get(f"/api/docs/assets/{name}", tenant=False)
        assert asset.status_code == 200, name
        assert asset.headers["Content-Type"].startswith(media)
        assert len(asset.content) > 10_000
    assert rest.get("/api/docs/assets/..%2Fcore.py", tenant=False).status_code == 404


# --- the live server against the document ---------------------------------------------------

P1 = 1_000_000_000  # the first party id
CONFORMANCE = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def _seed(tenant_key) -> dict[str, str]:
    """One resource of each kind the server can render without outside services:
    a party of two, a messenger, a note, an invite, transport's seeded routes.
    Returns the path ids that name them."""
    tenant = tenant_row(tenant_key)
    for character_id in (1001, 1002):
        cache(tenant, character_id)
    party_services.party_create(tenant=tenant, actor_id=1001)
    party_services.party_join(tenant=tenant, character_id=1002, party_id=P1)
    note = note_services.note_create(
        tenant=tenant, character_id=1001, sender_id=1002, message="hello", flag=1
    )
    invite_services.invite_create(
        tenant=tenant,
        transaction_id=uuid.uuid4(),
        world_id=0,
        invite_type="PARTY",
        originator_id=1002,
        target_id=1001,
        reference_id=P1,
    )
    messenger = messenger_services.messenger_create(
        tenant=tenant, transaction_id=uuid.UUID(int=0), actor_id=1001, looked_up=CAST
    )
    assert lookups.seed_is_default()
    transport_services.tenant_configuration_ensure(tenant=tenant, now=clock.now(), seed=True)
    return {
        "partyId": str(P1),
        "memberId": "1001",
        "messengerId": str(messenger.messenger_id),
        "noteId": str(note.pk),
        "characterId": "1001",
        "routeId": str(Route.objects.filter(tenant=tenant).first().route_id),
        "instanceRouteId": str(InstanceRoute.objects.filter(tenant=tenant).first().route_id),
        "name": "swagger-ui.css",
    }


def _unexpected_server_error(response, case) -> None:
    """A 5xx is a failure unless the operation documents that status (upstream's 500s)."""
    if response.status_code >= 500:
        documented = case.operation.definition.raw["responses"]
        assert str(response.status_code) in documented, (
            f"{case.method} {case.formatted_path}: {response.status_code} "
            f"{response.content[:200]!r}"
        )


def _check(case, response) -> None:
    _unexpected_server_error(response, case)
    case.validate_response(response, checks=CONFORMANCE)


def _operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        # The echo app's routes are the tests' own (one fails on purpose); the
        # observability routes wait seconds for Redis and Kafka, absent here.
        if operation.path.startswith(("/api/echo", "/api/readyz", "/api/metrics", "/api/debug")):
            continue
        yield operation


@pytest.mark.filterwarnings("ignore")
def test_the_live_server_answers_as_its_document_says(rest):
    ids = _seed(rest.tenant)
    document = json.loads(rest.get("/api/openapi.json", tenant=False).content)
    schema = schemathesis.openapi.from_dict(document)
    headers = rest.tenant.http_headers()
    base_url = str(rest.http.base_url).rstrip("/")
    seen: dict[str, set[int]] = {}

    # Known ids: every read renders its resources, which must match their schemas.
    for operation in _operations(schema):
        if operation.method.upper() != "GET":
            continue
        path_ids = {}
        for name in re.findall(r"\{(\w+)\}", operation.path):
            instance = name == "routeId" and "instance-routes" in operation.path
            path_ids[name] = ids["instanceRouteId" if instance else name]
        query = {"include": "schedule"} if operation.path == "/api/transports/routes" else None
        case = operation.Case(path_parameters=path_ids, headers=dict(headers), query=query)
        response = case.call(base_url=base_url)
        _check(case, response)
        if operation.path.startswith("/api/docs/assets"):
            continue
        seen.setdefault(operation.path, set()).add(response.status_code)
    rendered = {path for path, statuses in seen.items() if 200 in statuses}
    # Each kind of resource was rendered at least once (but instance status: a
    # START needs the maps service, so the route's list of instances is empty).
    for path in (
        "/api/messengers/{messengerId}",
        "/api/messengers/{messengerId}/members/{memberId}",
        "/api/parties/{partyId}",
        "/api/parties/{partyId}/members/{memberId}",
        "/api/notes/{noteId}",
        "/api/characters/{characterId}/invites",
        "/api/transports/routes",
        "/api/transports/routes/{routeId}",
        "/api/transports/instance-routes/{routeId}",
    ):
        assert path in rendered, (path, seen.get(path))

    # Generated requests: ids, pages, filters and bodies drawn from the document, on
    # the seeded tenant (its headers are kept valid so requests reach the views).
    for operation in _operations(schema):

        @hypothesis_settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            if "TENANT_ID" in (case.headers or {}):
                case.headers = {**case.headers, **headers}
            response = case.call(base_url=base_url)
            _check(case, response)

        run()
