"""The tenant row every game-state row points at, and its id counters."""

from __future__ import annotations

from django.db import models

from project.tenancy.keys import TenantKey


class Tenant(models.Model):
    """A tenant seen on the wire; game state rows point at it."""

    uuid = models.UUIDField()
    region = models.CharField(max_length=32)
    major_version = models.PositiveIntegerField()
    minor_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["uuid", "region", "major_version", "minor_version"], name="tenant_identity"
            )
        ]
        ordering = ["uuid", "region", "major_version", "minor_version"]

    def __str__(self) -> str:
        return str(self.key)

    @property
    def key(self) -> TenantKey:
        return TenantKey(self.uuid, self.region, self.major_version, self.minor_version)


class TenantSequence(models.Model):
    """Per-tenant id counters (invites, parties, messengers start at 1000000000)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    name = models.CharField(max_length=32)
    last_value = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="tenant_sequence_identity")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.name}={self.last_value}"


def key_filter(key: TenantKey, prefix: str = "tenant__") -> dict:
    """Query arguments selecting rows of the tenant ``key`` without loading its row first."""
    return {
        f"{prefix}uuid": key.id,
        f"{prefix}region": key.region,
        f"{prefix}major_version": key.major,
        f"{prefix}minor_version": key.minor,
    }
