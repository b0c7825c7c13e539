"""The local directory: what the character, maps and data services would answer."""

from __future__ import annotations

import uuid

from django.db import models

from project.tenancy.models import Tenant


class Character(models.Model):
    """A character as the character service describes it, with where it is (maps service).

    Kept current from the character status events (``directory.handlers``) and
    editable in the admin; consulted only when no service URL is configured.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    character_id = models.PositiveBigIntegerField()
    world_id = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=64, blank=True)
    level = models.PositiveSmallIntegerField(default=1)
    job_id = models.PositiveIntegerField(default=0)
    gm = models.IntegerField(default=0, help_text="GM level; GM means > 0")
    channel_id = models.PositiveSmallIntegerField(default=0)
    map_id = models.PositiveBigIntegerField(default=0)
    instance = models.UUIDField(default=uuid.UUID(int=0))
    online = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "character_id"], name="directory_character_per_tenant"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "world_id", "channel_id", "map_id", "instance"],
                name="directory_character_by_map",
            )
        ]
        ordering = ["tenant", "character_id"]

    def __str__(self) -> str:
        return f"{self.name or '?'} ({self.character_id})"


class Portal(models.Model):
    """A map's portal as the data service lists it (transport picks spawn portals)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    map_id = models.PositiveBigIntegerField()
    portal_id = models.PositiveIntegerField()
    name = models.CharField(max_length=64, blank=True)
    type = models.PositiveSmallIntegerField(default=0)
    target_map_id = models.PositiveBigIntegerField(default=999999999)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "map_id", "portal_id"], name="directory_portal_per_map"
            )
        ]
        ordering = ["tenant", "map_id", "portal_id"]

    def __str__(self) -> str:
        return f"map {self.map_id} portal {self.portal_id}"
