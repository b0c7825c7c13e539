"""The transport tests' vocabulary: the example tenant, instants, handler calls."""

from __future__ import annotations

import datetime as dt
import uuid

from project.tenancy.models import Tenant
from tests.delivery import handle_directly
from tests.support import values

TENANT_UUID = uuid.UUID("ec876921-c363-4cc6-9c51-5bb8d57f9553")


def at(text: str) -> dt.datetime:
    """``"2026-08-06T00:05:00"`` (optionally with a fraction) as an aware UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def types(tenant: Tenant, token: str) -> list[str]:
    return [value["type"] for value in values(token, tenant)]


def deliver(tenant: Tenant, token: str, value: dict | bytes, *, headers=None) -> str:
    """Decode ``value`` as the bridge and the worker do, then run its handler (and its
    ``prepare``) as the inbox would. Returns the decoding error ("" when handled or
    skipped)."""
    headers = headers if headers is not None else tenant.key.kafka_headers()
    outcome = handle_directly("transport", token, value, headers)
    return "" if outcome == "skipped" else outcome
