"""A bounded property-based run over every REST route through the real server (issue 23).

Methods, path ids, paging and filter parameters, tenant headers and bodies are
drawn by hypothesis; every answer must come within 2 s, be no 5xx (but for the
missing-resource 500s upstream answers and docs/compatibility.md keeps), and a
refused request or any read must leave every table as it was.
"""

from __future__ import annotations

import os
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
from django.apps import apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from project.tenancy.models import Tenant
from tests.platform.test_rest_hostile import APPS

ROUTES = [
    ("GET", "/api/notes"),
    ("POST", "/api/notes"),
    ("GET", "/api/notes/{id}"),
    ("PATCH", "/api/notes/{id}"),
    ("DELETE", "/api/notes/{id}"),
    ("GET", "/api/characters/{id}/notes"),
    ("DELETE", "/api/characters/{id}/notes"),
    ("GET", "/api/characters/{id}/invites"),
    ("GET", "/api/parties"),
    ("POST", "/api/parties"),
    ("GET", "/api/parties/{id}"),
    ("PATCH", "/api/parties/{id}"),
    ("GET", "/api/parties/{id}/members"),
    ("POST", "/api/parties/{id}/members"),
    ("GET", "/api/parties/{id}/relationships/members"),
    ("GET", "/api/parties/{id}/members/{id2}"),
    ("DELETE", "/api/parties/{id}/members/{id2}"),
    ("GET", "/api/messengers"),
    ("GET", "/api/messengers/{id}"),
    ("GET", "/api/messengers/{id}/members"),
    ("POST", "/api/messengers/{id}/members"),
    ("GET", "/api/messengers/{id}/members/{id2}"),
    ("DELETE", "/api/messengers/{id}/members/{id2}"),
    ("GET", "/api/transports/routes"),
    ("GET", "/api/transports/routes/{id}"),
    ("GET", "/api/transports/instance-routes"),
    ("GET", "/api/transports/instance-routes/{id}"),
    ("GET", "/api/transports/instance-routes/{id}/status"),
    ("POST", "/api/transports/instance-routes/{id}/start"),
    ("PUT", "/api/notes"),
    ("POST", "/api/parties/{id}/members/{id2}"),
    # (not /api/readyz, /api/metrics: they wait seconds for Redis and Kafka by design,
    # absent here; test_rest_hostile checks them with any Host)
    ("GET", "/api/nothing/{id}"),
]

# Upstream answers a missing resource on these with a 500 (kept, docs/compatibility.md).
UPSTREAM_500 = {
    ("GET", "/api/notes/{id}"),
    ("PATCH", "/api/notes/{id}"),
    ("DELETE", "/api/notes/{id}"),
    ("GET", "/api/parties/{id}/members"),
    ("GET", "/api/parties/{id}/relationships/members"),
    ("GET", "/api/parties/{id}/members/{id2}"),
    ("GET", "/api/messengers/{id}/members"),
    ("GET", "/api/messengers/{id}/relationships/members"),
    ("GET", "/api/messengers/{id}/members/{id2}"),
    ("GET", "/api/transports/routes/{id}"),
}

ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["+1", "01", "-1", "4294967296", "1_0", " 1", "0x10", "", "٣", "1" * 400]),
    st.uuids().map(str),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    ids,
)
attributes = st.dictionaries(
    st.sampled_from(
        [
            "characterId",
            "senderId",
            "message",
            "flag",
            "timestamp",
            "leaderId",
            "name",
            "level",
            "worldId",
            "channelId",
            "mapId",
            "instance",
            "online",
            "LEADERID",
        ]
    ),
    scalars,
    max_size=5,
)
resource = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(
            st.sampled_from(["notes", "parties", "members", "start-transport"]), st.text(max_size=5)
        ),
        "id": st.one_of(ids, scalars),
        "attributes": st.one_of(attributes, scalars),
        "relationships": st.one_of(
            st.fixed_dictionaries(
                {
                    "members": st.fixed_dictionaries(
                        {
                            "data": st.lists(
                                st.fixed_dictionaries(
                                    {"type": st.just("members"), "id": st.one_of(ids, scalars)}
                                ),
                                max_size=3,
                            )
                        }
                    )
                }
            ),
            scalars,
        ),
    },
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.fixed_dictionaries({"data": st.one_of(resource, scalars, st.lists(resource, max_size=2))}),
)
query_values = st.one_of(ids, st.sampled_from(["1", "2", "250", "251", "0"]))
queries = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "page[number]",
                "page[size]",
                "filter[members.id]",
                "filter[startMapId]",
                "include",
                "fields[notes]",
                "fields[parties]",
                "limit",
            ]
        ),
        query_values,
    ),
    max_size=4,
)
header_values = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "00000000-0000-0000-0000-000000000000",
            "8_3",
            "+83",
            "-1",
            "65536",
            "",
            "GMS",
            "{0838-39c6c47c42a6958576492795d123}",
            "1" * 40,
        ]
    ),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
)
header_changes = st.dictionaries(
    st.sampled_from(["TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"]),
    header_values,
    max_size=2,
)


def tenant_snapshot(tenant_id: uuid.UUID) -> dict[str, int]:
    """The rows of the tenant a request names, per model: all a request can change.

    Counting every table instead would count what the session's stack writes
    meanwhile for other tenants (records of earlier tests it is still handling),
    which made examples fail once and pass when replayed.
    """
    counts = {"tenancy.Tenant": Tenant.objects.filter(uuid=tenant_id).count()}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            if any(f.name == "tenant" for f in model._meta.get_fields()):
                counts[model._meta.label] = model.objects.filter(tenant__uuid=tenant_id).count()
    return counts


def named_tenant(headers: dict[str, str], default: uuid.UUID) -> uuid.UUID:
    try:
        return uuid.UUID(headers.get("TENANT_ID", ""))
    except ValueError:  # refused before any lookup; the nil tenant (never created) is counted
        return default


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    first=ids,
    second=ids,
    query=queries,
    # mostly the test's own tenant, so requests also get past the headers
    changes=st.one_of(st.just({}), st.just({}), st.just({}), header_changes),
    body=bodies,
)
def test_no_request_is_a_5xx_a_hang_or_a_change_when_refused(
    rest, route, first, second, query, changes, body
):
    method, template = route
    path = template.replace("{id}", quote(first, safe="")).replace("{id2}", quote(second, safe=""))
    query_string = "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in query)
    # A tenant of this example's own: what earlier examples' accepted requests set
    # off (commands the session's stack, when it runs, consumes and answers) stays
    # with their tenants and cannot be taken for a change made by this request.
    headers = {**rest.tenant.http_headers(), "TENANT_ID": str(uuid.uuid4())}
    for name, value in changes.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    content = body if isinstance(body, bytes) or body is None else None
    tenant_id = named_tenant(headers, uuid.UUID(int=0))
    before = tenant_snapshot(tenant_id)
    started = time.monotonic()
    response = rest.http.request(
        method,
        f"{path}?{query_string}" if query_string else path,
        headers=headers,
        content=content,
        json=body if isinstance(body, dict) else None,
        timeout=httpx.Timeout(2.0),
    )
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    status = response.status_code
    if os.environ.get("FUZZ_STATS"):
        with open(os.environ["FUZZ_STATS"], "a") as f:
            f.write(f"{status} {method} {template}\n")
    if status >= 500:
        assert status == 500 and route in UPSTREAM_500, (status, response.content[:300])
    if status >= 400 or method == "GET":
        assert tenant_snapshot(tenant_id) == before, (status, method, path)
