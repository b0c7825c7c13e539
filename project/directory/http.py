"""The outgoing JSON:API client, with upstream's behaviour.

``<DOMAIN>_SERVICE_URL``, else ``BASE_SERVICE_URL``, then the resource path.
Each request sends the tenant (decimal versions), ``traceparent`` and
``ENVIRONMENT`` of the work that causes it. Three attempts; a transport error or a
503 is retried after a jittered back-off from 200 ms doubling to 2 s, or after an
integer ``Retry-After``; each attempt is bounded by ``HTTP_CLIENT_TIMEOUT``.
200/202 answer, 400 and 404 are final, anything else fails.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import httpx
from django.conf import settings

from project.directory.errors import BadRequest, NotFound, Unavailable
from project.messaging import bus, wire
from project.tenancy import TenantKey

logger = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF_START = 0.2
BACKOFF_MAX = 2.0
PAGE_SIZE = 250

_local = threading.local()


def base_url(domain: str) -> str:
    """The configured base URL of a domain (``CHARACTERS``, ``MAPS`` …), or ``""``."""
    return settings.SERVICE_URLS.get(domain, "") or settings.BASE_SERVICE_URL


def configured(domain: str) -> bool:
    return bool(base_url(domain))


def _client() -> httpx.Client:
    """One connection pool per thread (the lookups worker runs threads)."""
    client = getattr(_local, "client", None)
    if client is None:
        client = httpx.Client(timeout=settings.HTTP_CLIENT_TIMEOUT)
        _local.client = client
    return client


def _headers(tenant_key: TenantKey) -> dict[str, str]:
    cause = bus.current_cause()
    headers = {"Content-Type": "application/json; charset=utf-8", **tenant_key.http_headers()}
    if cause.trace is not None:
        headers["traceparent"] = str(cause.trace.child())
    if cause.environment:
        headers["ENVIRONMENT"] = cause.environment
    return headers


def get_document(domain: str, path: str, *, tenant_key: TenantKey, params=None) -> dict[str, Any]:
    """GET one JSON:API document; raises ``NotFound``, ``BadRequest`` or ``Unavailable``."""
    url = base_url(domain) + path
    headers = _headers(tenant_key)
    delay = BACKOFF_START
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        wait = None
        try:
            response = _client().get(url, headers=headers, params=params)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            if status in (200, 202):
                try:
                    document = wire.loads(response.content)
                except wire.WireError as exc:
                    raise Unavailable(f"GET {url}: undecodable body: {exc}") from None
                return document
            if status == 404:
                raise NotFound(f"GET {url}: 404")
            if status == 400:
                raise BadRequest(f"GET {url}: 400")
            last = f"status {status}"
            if status != 503:
                break  # upstream retries only transport errors and 503
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                wait = float(retry_after)
        if attempt < ATTEMPTS:
            time.sleep(wait if wait is not None else random.uniform(0, delay))
            delay = min(delay * 2, BACKOFF_MAX)
    logger.warning("GET %s failed after %d attempts: %s", url, attempt, last)
    raise Unavailable(f"GET {url}: {last}")


def get_collection(domain: str, path: str, *, tenant_key: TenantKey) -> list[dict[str, Any]]:
    """Every resource object of a paginated collection: page 1, then 2..``meta.page.last``.

    A response without ``meta`` is the whole collection; an empty page stops early.
    """
    items: list[dict[str, Any]] = []
    number = 1
    while True:
        document = get_document(
            domain,
            path,
            tenant_key=tenant_key,
            params={"page[number]": number, "page[size]": PAGE_SIZE},
        )
        data = document.get("data") or []
        if not isinstance(data, list):
            raise Unavailable(f"{path}: data is not a list")
        items.extend(data)
        meta = document.get("meta")
        if not isinstance(meta, dict) or not data:
            return items
        last = (meta.get("page") or {}).get("last", 1)
        if not isinstance(last, int) or number >= last:
            return items
        number += 1


def resource(document: dict[str, Any], type_: str) -> dict[str, Any]:
    """The ``data`` object of a single-resource document, checked to be of ``type_``."""
    data = document.get("data")
    if not isinstance(data, dict) or data.get("type") != type_:
        raise Unavailable(f"expected a {type_!r} resource")
    return data
