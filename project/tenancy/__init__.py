"""Tenancy: the unit of isolation, in one place.

- ``keys``: ``TenantKey``, the four-part identity as a value, and its Kafka
  (2-byte versions) and HTTP (decimal) header forms. Importable without Django.
- ``models``: the ``Tenant`` row every state row points at, and ``TenantSequence``.
- ``rows``: ``tenant_row(key)``, the cached get-or-create from a wire value.
- ``sequences``: ``next_id``, per-tenant ids from 1000000000.

The pure header helpers are re-exported here; the model modules are not, so this
package can be imported before Django's app registry is ready.
"""

from project.tenancy.keys import (
    MAJOR_VERSION,
    MINOR_VERSION,
    NIL_UUID,
    REGION,
    TENANT_ID,
    InvalidTenant,
    TenantKey,
    from_http_headers,
    from_kafka_headers,
)

__all__ = [
    "MAJOR_VERSION",
    "MINOR_VERSION",
    "NIL_UUID",
    "REGION",
    "TENANT_ID",
    "InvalidTenant",
    "TenantKey",
    "from_http_headers",
    "from_kafka_headers",
]
