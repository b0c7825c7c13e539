"""The tenant: the unit of isolation, and its two header forms.

Kafka carries the versions as 2 raw big-endian bytes, HTTP as decimal text.
All four parts are the identity: the same UUID with
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

    Stricter than upstream on purpose (project decision): upstream turns a
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


_GO_ATOI = re.compile(r"[+-]?[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]{32}")


def parse_go_uuid(text: str) -> uuid.UUID:
    """google/uuid's ``uuid.Parse``: 36 characters with dashes at 8, 13, 18 and 23;
    ``urn:uuid:`` (any case) or one character either side (braces, unchecked, as Go)
    around that; or 32 hex digits. Python's ``uuid.UUID`` would also take dashes
    anywhere and any braces ("{0838-39c6…}")."""
    if len(text) == 32:
        if not _HEX.fullmatch(text):
            raise InvalidTenant("not a UUID")
        return uuid.UUID(hex=text)
    if len(text) == 36 + 9:
        if text[:9].lower() != "urn:uuid:":
            raise InvalidTenant("not a UUID")
        text = text[9:]
    elif len(text) == 36 + 2:
        text = text[1:37]
    elif len(text) != 36:
        raise InvalidTenant("not a UUID")
    if not text.isascii() or not _CANONICAL_UUID.fullmatch(text.encode("ascii")):
        raise InvalidTenant("not a UUID")
    return uuid.UUID(text)


def parse_go_atoi(text: str) -> int:
    """Go's ``strconv.Atoi`` on a 64-bit platform: ASCII decimal digits with an
    optional sign, leading zeros allowed, within int64 (Python's ``int`` would also
    take underscores, spaces, other scripts' digits and any size)."""
    if not _GO_ATOI.fullmatch(text):
        raise ValueError(f"not a decimal integer: {text[:40]!r}")
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 19:  # beyond int64; also keeps int() under Python's digit limit
        raise ValueError("out of range")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError("out of range")
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header, its name compared case-insensitively, ``-`` and ``_`` alike
    (gunicorn's ``header_map = "dangerous"`` maps both to one WSGI key). A repeated
    header reaches WSGI joined with ``,`` (Go's ``Header.Get`` takes the first);
    it is read joined, so a repeated id or version is a 400 (docs/compatibility.md)."""
    for key, value in headers.items():
        if key.lower().replace("-", "_") == name:
            return value
    return None


def from_http_headers(headers: Mapping[str, str]) -> TenantKey:
    """Decode the tenant from HTTP headers (decimal versions, case-insensitive names),
    with upstream's parsers (``uuid.Parse``, ``strconv.Atoi``) and the bridge's rules
    on top: not the nil UUID, ``REGION`` UTF-8 (the bytes as sent; WSGI hands them
    over as Latin-1), at most 32 characters, no NUL, versions within 0..65535.
    """
    raw_id = _header(headers, "tenant_id")
    region = _header(headers, "region")
    raw_major = _header(headers, "major_version")
    raw_minor = _header(headers, "minor_version")
    if not raw_id or not region or not raw_major or not raw_minor:
        raise InvalidTenant("missing tenant header")
    tenant_id = parse_go_uuid(raw_id)
    if tenant_id == NIL_UUID:
        raise InvalidTenant("TENANT_ID header is the nil UUID")
    try:
        region = region.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidTenant("REGION header is not UTF-8") from None
    _check_region(region)
    try:
        major = parse_go_atoi(raw_major)
        minor = parse_go_atoi(raw_minor)
    except ValueError as exc:
        raise InvalidTenant(f"invalid version header: {exc}") from None
    if not (0 <= major <= 0xFFFF and 0 <= minor <= 0xFFFF):
        raise InvalidTenant("version out of range")
    return TenantKey(tenant_id, region, major, minor)
