"""GET /api/characters/{characterId}/invites through the real HTTP server."""

from __future__ import annotations

import json
import uuid

import pytest

from invites.models import Invite
from project.tenancy.rows import tenant_row
from tests.invites.support import create

PATH = "/api/characters/700/invites"
BAD_PAGE = (
    b'{"errors":[{"status":"400","title":"Bad Request",'
    b'"detail":"invalid page[number]/page[size]"}]}'
)


@pytest.fixture
def three_invites(tenant_key):
    """Invites 1000000000..2 to character 700, one to 701, and one sent by 700."""
    tenant = tenant_row(tenant_key)
    for reference in (9000, 9001, 9002):
        create(tenant, originator_id=800, target_id=700, reference_id=reference)
    create(tenant, originator_id=800, target_id=701, reference_id=9003)
    create(tenant, originator_id=700, target_id=702, reference_id=9004)
    return tenant


def test_a_page_has_links_meta_and_the_received_invites_by_id(rest, three_invites):
    response = rest.get(f"{PATH}?page[size]=2")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["links", "data", "meta"]
    assert body["links"] == {
        "first": f"{PATH}?page%5Bnumber%5D=1&page%5Bsize%5D=2",
        "last": f"{PATH}?page%5Bnumber%5D=2&page%5Bsize%5D=2",
        "next": f"{PATH}?page%5Bnumber%5D=2&page%5Bsize%5D=2",
        "self": f"{PATH}?page%5Bnumber%5D=1&page%5Bsize%5D=2",
    }
    assert body["meta"] == {"page": {"last": 2, "number": 1, "size": 2}, "total": 3}
    assert [(r["type"], r["id"]) for r in body["data"]] == [
        ("invites", "1000000000"),
        ("invites", "1000000001"),
    ]
    first = body["data"][0]
    assert list(first) == ["type", "id", "attributes"]
    assert list(first["attributes"]) == ["type", "referenceId", "originatorId", "targetId", "age"]
    stored = Invite.objects.get(tenant=three_invites, invite_id=1000000000)
    assert first["attributes"]["age"].endswith("Z")
    assert first["attributes"] | {"age": None} == {
        "type": "PARTY",
        "referenceId": 9000,
        "originatorId": 800,
        "targetId": 700,
        "age": None,
    }
    assert stored.target_id == 700
    # Go's HTML escaping of "&" in the raw body
    assert b"\\u0026" in response.content


def test_the_last_page_has_prev_and_no_next(rest, three_invites):
    body = rest.get(f"{PATH}?page[number]=2&page[size]=2").json()
    assert [r["id"] for r in body["data"]] == ["1000000002"]
    assert body["links"]["prev"] == f"{PATH}?page%5Bnumber%5D=1&page%5Bsize%5D=2"
    assert "next" not in body["links"]


def test_past_the_end_is_empty_with_prev_at_the_last_page(rest, three_invites):
    body = rest.get(f"{PATH}?page[number]=5&page[size]=2").json()
    assert body["data"] == []
    assert body["links"]["prev"] == f"{PATH}?page%5Bnumber%5D=2&page%5Bsize%5D=2"
    assert "next" not in body["links"]
    assert body["meta"]["page"] == {"last": 2, "number": 5, "size": 2}


def test_no_invites_is_the_exact_empty_document(rest):
    response = rest.get("/api/characters/2001/invites")
    assert response.content == (
        b'{"links":{"first":"/api/characters/2001/invites?page%5Bnumber%5D=1'
        b'\\u0026page%5Bsize%5D=250","last":"/api/characters/2001/invites?page%5Bnumber%5D=1'
        b'\\u0026page%5Bsize%5D=250","self":"/api/characters/2001/invites?page%5Bnumber%5D=1'
        b'\\u0026page%5Bsize%5D=250"},"data":[],"meta":{"page":{"last":1,"number":1,'
        b'"size":250},"total":0}}'
    )


def test_other_query_parameters_are_kept_sorted_in_links(rest, three_invites):
    body = rest.get(f"{PATH}?z=1&a=b c&page[size]=250").json()
    assert body["links"]["self"] == f"{PATH}?a=b+c&page%5Bnumber%5D=1&page%5Bsize%5D=250&z=1"


@pytest.mark.parametrize(
    "query",
    [
        "page[size]=0",
        "page[size]=251",
        "page[number]=0",
        "page[number]=x",
        "page[size]=1.5",
        "limit=10",
        "limit=",
        "page[size]=2&limit=1",
    ],
)
def test_bad_paging_is_a_400_with_the_library_body(rest, query):
    response = rest.get(f"{PATH}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.content == BAD_PAGE


def test_empty_page_parameters_take_the_defaults(rest, three_invites):
    body = rest.get(f"{PATH}?page[number]=&page[size]=").json()
    assert body["meta"]["page"] == {"last": 1, "number": 1, "size": 250}


def test_a_bad_character_id_is_a_400_with_an_empty_body(rest):
    response = rest.get("/api/characters/abc/invites")
    assert (response.status_code, response.content) == (400, b"")
    assert response.headers["content-type"] == "application/json"


def test_a_negative_id_is_truncated_to_uint32_as_upstream(rest, tenant_key):
    create(tenant_row(tenant_key), originator_id=800, target_id=4294967295, reference_id=1)
    body = rest.get("/api/characters/-1/invites").json()
    assert [r["attributes"]["targetId"] for r in body["data"]] == [4294967295]


@pytest.mark.parametrize("drop", ["TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"])
def test_missing_tenant_headers_are_a_400_with_an_empty_body(rest, drop):
    headers = {k: v for k, v in rest.tenant.http_headers().items() if k != drop}
    response = rest.get(PATH, tenant=False, headers=headers)
    assert (response.status_code, response.content) == (400, b"")


def test_malformed_tenant_headers_are_a_400(rest):
    for bad in ({"TENANT_ID": "nope"}, {"MAJOR_VERSION": "x"}, {"MINOR_VERSION": "70000"}):
        assert rest.get(PATH, headers=bad).status_code == 400, bad


def test_tenants_do_not_see_each_other(rest, three_invites):
    other = {"TENANT_ID": str(uuid.uuid4())}
    assert rest.get(PATH, headers=other).json()["data"] == []
    other_version = {"MINOR_VERSION": "2"}
    assert rest.get(PATH, headers=other_version).json()["data"] == []


def test_sparse_fieldsets_keep_only_the_named_attributes(rest, three_invites):
    body = rest.get(f"{PATH}?fields[invites]=targetId,type").json()
    assert body["data"][0]["attributes"] == {"type": "PARTY", "targetId": 700}


def test_an_unknown_field_is_a_400_with_the_api2go_error_object(rest, three_invites):
    response = rest.get(f"{PATH}?fields[invites]=nope")
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "status": "Bad Request",
        "code": "API2GO_INVALID_FIELD_QUERY_PARAM",
        "title": 'Field "nope" does not exist for type "invites"',
        "detail": "Please make sure you do only request existing fields",
        "source": {"parameter": "fields[invites]"},
    }


def test_a_trailing_slash_redirects_permanently_keeping_the_query(rest):
    response = rest.get(f"{PATH}/?page[size]=5")
    assert response.status_code == 301
    assert response.headers["location"] == f"{PATH}?page[size]=5"


def test_another_method_is_a_405(rest):
    assert rest.post(PATH, content=b"{}").status_code == 405


def test_an_unknown_api_path_is_go_s_plain_404(rest):
    response = rest.get("/api/nothing-here")
    assert (response.status_code, response.content) == (404, b"404 page not found\n")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
