"""Pending invitations, one row per invite, always scoped by tenant."""

from __future__ import annotations

from django.db import models

from project.tenancy.models import Tenant


class Invite(models.Model):
    """An invitation from ``originator_id`` to ``target_id`` to join ``reference_id``.

    ``invite_id`` is the per-tenant uint32 id upstream exposes over REST (first
    value 1000000000); the surrogate primary key is internal. ``created_at`` is
    upstream's ``age``: set once on creation, never refreshed, and the expiry
    sweep's only criterion.

    At most one invite per (tenant, target, type, reference) — a database
    constraint, so concurrent CREATEs cannot both insert (upstream only checks
    before writing). Its index also serves the ACCEPT and CREATE
    lookups, and, by prefix, listing the invites a character received.
    """

    # No separate index: both unique constraints below start with the tenant.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    invite_id = models.PositiveBigIntegerField(help_text="per-tenant id (uint32)")
    # Free-form, case-sensitive, any length upstream: text, not a bounded varchar.
    invite_type = models.TextField()
    reference_id = models.PositiveBigIntegerField()
    originator_id = models.PositiveBigIntegerField()
    target_id = models.PositiveBigIntegerField()
    world_id = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(help_text="upstream 'age': creation time")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "target_id", "invite_type", "reference_id"],
                name="invite_one_per_reference",
            ),
            models.UniqueConstraint(fields=["tenant", "invite_id"], name="invite_id_per_tenant"),
        ]
        indexes = [
            # REJECT: by (target, type, originator), the oldest (lowest id) first.
            models.Index(
                fields=["tenant", "target_id", "invite_type", "originator_id", "invite_id"],
                name="invite_by_originator_of_type",
            ),
            # Character deletion, originator side.
            models.Index(fields=["tenant", "originator_id"], name="invite_by_originator"),
            # Expiry sweep: created_at < cutoff, oldest first, across tenants.
            models.Index(fields=["created_at", "id"], name="invite_by_age"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.invite_type} invite {self.invite_id}: "
            f"{self.originator_id} → {self.target_id} (ref {self.reference_id})"
        )
