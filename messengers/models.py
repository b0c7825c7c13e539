"""Messengers, their seats, and the character registry, always scoped by tenant.

Membership has one home, the ``Member`` table: upstream keeps it twice (the
messenger's member list and the character record's ``messengerId``), and the two
can disagree. Here a character's messenger is *derived* from its seat, so
they cannot. The database holds the invariants that concurrency could break:

- one seat per character per tenant (``member_one_messenger``): never seated twice;
- one character per seat number per messenger (``member_one_per_seat``);
- capacity 3 is checked under a row lock on the messenger (``services``), and the
  seat number is bounded 0..2 by a check constraint, so a fourth member cannot exist.
"""

from __future__ import annotations

from django.db import models

from project.tenancy.models import Tenant

CAPACITY = 3


class Messenger(models.Model):
    """A three-seat chat room; exists while it has at least one member."""

    # No separate index: the unique constraint below starts with the tenant.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    messenger_id = models.PositiveBigIntegerField(help_text="per-tenant id (uint32)")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "messenger_id"], name="messenger_id_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"messenger {self.messenger_id}"


class Member(models.Model):
    """A character seated in a messenger. Insertion order (``id``) is upstream's
    member-list order: REST relationships and ``included`` follow it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    messenger = models.ForeignKey(Messenger, on_delete=models.CASCADE, related_name="members")
    character_id = models.PositiveBigIntegerField()
    slot = models.PositiveSmallIntegerField(help_text="seat 0..2")
    joined_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "character_id"], name="member_one_messenger"),
            models.UniqueConstraint(fields=["messenger", "slot"], name="member_one_per_seat"),
            models.CheckConstraint(
                condition=models.Q(slot__lt=CAPACITY), name="member_slot_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"character {self.character_id} in seat {self.slot}"


class Character(models.Model):
    """The registry record of a character: what the service knows of it.

    Filled from the character service on first sight (``lookups``, in ``prepare``)
    and kept current by character status events. ``name`` and ``world_id`` come
    from the character service; ``channel_id`` and ``online`` from events. The
    row is also the per-character lock: every operation that may change the
    character's seat locks it first (``services``), which is what upstream's
    creation lock was for.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    character_id = models.PositiveBigIntegerField()
    name = models.TextField()
    world_id = models.PositiveSmallIntegerField()
    channel_id = models.PositiveSmallIntegerField(default=0)
    online = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "character_id"], name="messenger_character_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.character_id})"
