"""Fixtures of the notes tests."""

from __future__ import annotations

import json as jsonlib
import uuid

import pytest
from django.test import Client

from project.tenancy import TenantKey


class DjangoApiClient:
    """The REST client interface of ``tests.rest_server.RestClient``, over Django's test client.

    PLATFORM: used until the real-HTTP-server fixture (``rest``) is committed; then
    the ``api`` fixture below switches to it.
    """

    def __init__(self, tenant: TenantKey) -> None:
        self.tenant = tenant
        self.client = Client()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        tenant: bool = True,
    ):
        all_headers = {**(self.tenant.http_headers() if tenant else {}), **(headers or {})}
        if json is not None:
            content = jsonlib.dumps(json).encode()
        path, _, query = path.partition("?")
        return self.client.generic(
            method,
            path,
            data=content or b"",
            content_type="application/json",
            headers=all_headers,
            QUERY_STRING=query,
        )

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(db):
    return DjangoApiClient(TenantKey(uuid.uuid4(), "GMS", 83, 1))
