"""The tenant: the unit of isolation, and its two header forms.

Kafka carries the versions as 2 raw big-endian bytes, HTTP as decimal text
(spec/platform.md §2.2, §3.2). All four parts are the identity: the same UUID with
another region or version is another tenant.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TENANT_ID = "TENANT_ID"
REGION = "REGION"
MAJOR_VERSION = "MAJOR_VERSION"
MINOR_VERSION = "MINOR_VERSION"

NIL_UUID = uuid.UUID(int=0)
_CANONICAL_UUID = re.compile(
    rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class InvalidTenant(ValueError):
    """The tenant headers are missing or malformed; the message is not processed."""


@dataclass(frozen=True, slots=True)
class TenantKey:
    """The four-part tenant identity as a value."""

    id: uuid.UUID
    region: str
    major: int
    minor: int

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [
            (TENANT_ID, str(self.id).encode("ascii")),
            (REGION, self.region.encode("utf-8")),
            (MAJOR_VERSION, struct.pack(">H", self.major)),
            (MINOR_VERSION, struct.pack(">H", self.minor)),
        ]

    def http_headers(self) -> dict[str, str]:
        return {
            TENANT_ID: str(self.id),
            REGION: self.region,
            MAJOR_VERSION: str(self.major),
            MINOR_VERSION: str(self.minor),
        }

    def as_json(self) -> dict:
        return {
            "id": str(self.id),
            "region": self.region,
            "majorVersion": self.major,
            "minorVersion": self.minor,
        }

    def __str__(self) -> str:
        return f"{self.id}:{self.region}:{self.major}.{self.minor}"


# Regions are short codes (GMS, JMS …); the tenant table holds at most this many.
MAX_REGION_LENGTH = 32


def _check_region(region: str) -> None:
    """The same rule on every database: SQLite would store what PostgreSQL refuses."""
    if len(region) > MAX_REGION_LENGTH:
        raise InvalidTenant(f"REGION header is longer than {MAX_REGION_LENGTH} characters")
    if "\x00" in region:
        raise InvalidTenant("REGION header holds a NUL character")


def from_kafka_headers(headers: Iterable[tuple[str, bytes | None]]) -> TenantKey:
    """Decode the tenant from Kafka record headers.

    Stricter than upstream on purpose (spec/README.md, decisions): upstream turns a
    bad tenant into the all-zero tenant and processes the message anyway; here a
    missing or malformed header is an error that makes the record a dead letter.
    The last occurrence of a repeated header wins, as in the Go parser.
    """
    values: dict[str, bytes] = {}
    for name, value in headers:
        if name in (TENANT_ID, REGION, MAJOR_VERSION, MINOR_VERSION):
            values[name] = value or b""
    raw_id = values.get(TENANT_ID)
    if raw_id is None:
        raise InvalidTenant("missing TENANT_ID header")
    if len(raw_id) != 36:
        raise InvalidTenant(f"TENANT_ID header must be 36 bytes, got {len(raw_id)}")
    # google/uuid's 36-byte form: dashes at 8, 13, 18 and 23, hex digits elsewhere.
    # (Python's uuid.UUID alone would also take "urn:" + 32 hex digits, or "0x…".)
    if not _CANONICAL_UUID.fullmatch(raw_id):
        raise InvalidTenant(f"TENANT_ID header is not a UUID: {raw_id[:40]!r}")
    tenant_id = uuid.UUID(raw_id.decode("ascii"))
    if tenant_id == NIL_UUID:
        raise InvalidTenant("TENANT_ID header is the nil UUID")
    raw_region = values.get(REGION)
    if not raw_region:
        raise InvalidTenant("missing or empty REGION header")
    try:
        region = raw_region.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTenant("REGION header is not UTF-8") from None
    _check_region(region)
    versions = []
    for name in (MAJOR_VERSION, MINOR_VERSION):
        raw = values.get(name)
        if raw is None:
            raise InvalidTenant(f"missing {name} header")
        if len(raw) != 2:
            raise InvalidTenant(f"{name} header must be 2 big-endian bytes, got {len(raw)} bytes")
        versions.append(struct.unpack(">H", raw)[0])
    return TenantKey(tenant_id, region, versions[0], versions[1])


def from_http_headers(headers: Mapping[str, str]) -> TenantKey:
    """Decode the tenant from HTTP headers (decimal versions, case-insensitive names)."""
    lowered = {name.lower().replace("-", "_"): value for name, value in headers.items()}
    try:
        tenant_id = uuid.UUID(lowered["tenant_id"])
        region = lowered["region"]
        major = int(lowered["major_version"])
        minor = int(lowered["minor_version"])
    except (KeyError, ValueError) as exc:
        raise InvalidTenant(f"invalid tenant headers: {exc}") from None
    if not region:
        raise InvalidTenant("empty REGION header")
    _check_region(region)
    if not (0 <= major <= 0xFFFF and 0 <= minor <= 0xFFFF):
        raise InvalidTenant("version out of range")
    return TenantKey(tenant_id, region, major, minor)
