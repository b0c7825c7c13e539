"""Who is in a map (maps service), for warps."""

from __future__ import annotations

import uuid

from project.directory import http
from project.directory.models import Character
from project.tenancy import TenantKey
from project.tenancy.models import key_filter


def characters_in_map(
    tenant_key: TenantKey, *, world_id: int, channel_id: int, map_id: int, instance: uuid.UUID
) -> list[int]:
    """Ids of the characters in a map instance, ascending; online ones only when local."""
    if not http.configured("MAPS"):
        return list(
            Character.objects.filter(
                **key_filter(tenant_key),
                world_id=world_id,
                channel_id=channel_id,
                map_id=map_id,
                instance=instance,
                online=True,
            )
            .order_by("character_id")
            .values_list("character_id", flat=True)
        )
    path = f"worlds/{world_id}/channels/{channel_id}/maps/{map_id}/instances/{instance}/characters/"
    items = http.get_collection("MAPS", path, tenant_key=tenant_key)
    return sorted(int(item["id"]) for item in items if item.get("type") == "characters")
