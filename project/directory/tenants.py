"""The tenant list of the tenants service (``tenants``), for work over every tenant:
transport's route loads, the notes import's tenant mapping."""

from __future__ import annotations

import logging
import uuid

from project.directory import http
from project.tenancy import TenantKey

logger = logging.getLogger(__name__)

# The tenant list is not a tenant's resource: it is asked with the all-zero tenant.
# ``http.get_collection`` requires a tenant; a tenant-less read (no tenant headers)
# would be the exact upstream request.
NO_TENANT = TenantKey(uuid.UUID(int=0), "", 0, 0)


def keys() -> list[TenantKey]:
    """Every tenant the service lists (a malformed item is logged and left out).
    Raises ``LookupFailed`` when the service does not answer."""
    result = []
    for item in http.get_collection("TENANTS", "tenants", tenant_key=NO_TENANT):
        attributes = item.get("attributes") or {}
        try:
            result.append(
                TenantKey(
                    uuid.UUID(item["id"]),
                    str(attributes.get("region", "")),
                    int(attributes.get("majorVersion", 0)),
                    int(attributes.get("minorVersion", 0)),
                )
            )
        except (KeyError, TypeError, ValueError):
            logger.warning("tenants service: malformed tenant item %r", item)
    return result
