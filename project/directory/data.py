"""A map's portals (data service), for spawn points of warps."""

from __future__ import annotations

from dataclasses import dataclass

from project.directory import http
from project.directory.models import Portal as LocalPortal
from project.tenancy import TenantKey
from project.tenancy.models import key_filter


@dataclass(frozen=True, slots=True)
class Portal:
    id: int
    name: str
    type: int
    target_map_id: int


def portals(tenant_key: TenantKey, map_id: int) -> list[Portal]:
    """Every portal of ``map_id`` (``data/maps/{id}/portals``, drained), by id."""
    if not http.configured("DATA"):
        return [
            Portal(p.portal_id, p.name, p.type, p.target_map_id)
            for p in LocalPortal.objects.filter(
                **key_filter(tenant_key),
                map_id=map_id,
            ).order_by("portal_id")
        ]
    items = http.get_collection("DATA", f"data/maps/{map_id}/portals", tenant_key=tenant_key)
    found = []
    for item in items:
        attributes = item.get("attributes") or {}
        found.append(
            Portal(
                id=int(item["id"]),
                name=str(attributes.get("name") or ""),
                type=int(attributes.get("type") or 0),
                target_map_id=int(attributes.get("targetMapId") or 0),
            )
        )
    return sorted(found, key=lambda p: p.id)
