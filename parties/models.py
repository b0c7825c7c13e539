"""Parties and the character cache, always scoped by tenant.

Upstream keeps three structures that must agree: the party records (leader,
ordered members), the cached character's ``partyId`` and a character→party index.
Here they are one fact: ``Character.party``. A member list is the characters
whose ``party`` is the party, in ``party_position`` order, so a character can be
in at most one party by construction and the three views can never disagree.

Writers lock the ``Party`` row before they change who is in it, and change a
character's ``party`` only with a compare-and-set (``party`` must still be what
they read), so capacity and "one party per character" hold under concurrency.
"""

from __future__ import annotations

import uuid

from django.db import models

from project.tenancy.models import Tenant

NIL_UUID = uuid.UUID(int=0)


class Party(models.Model):
    """A party: its per-tenant id (from 1000000000, never reused) and its leader."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    party_id = models.PositiveBigIntegerField(help_text="per-tenant id (uint32)")
    leader_id = models.PositiveBigIntegerField()
    # The next member's position: join order, the leader first at creation.
    next_position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "parties"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "party_id"], name="party_id_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"party {self.party_id} (leader {self.leader_id})"


class Character(models.Model):
    """The cached character: filled from the character and maps services
    on the first lookup, kept current by character status events, removed on DELETED.

    ``party`` is the membership itself; ``party_position`` orders a party's members.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    character_id = models.PositiveBigIntegerField()
    name = models.TextField(blank=True)
    level = models.PositiveSmallIntegerField(default=0)
    job_id = models.PositiveIntegerField(default=0)
    gm = models.BigIntegerField(default=0, help_text="GM level; GM means gm > 0")
    world_id = models.PositiveSmallIntegerField(default=0)
    channel_id = models.PositiveSmallIntegerField(default=0)
    map_id = models.PositiveBigIntegerField(default=0)
    instance = models.UUIDField(default=NIL_UUID)
    online = models.BooleanField(default=False)
    party = models.ForeignKey(
        Party, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    party_position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "character_id"], name="party_character_per_tenant"
            ),
        ]
        indexes = [
            # A party's member list in order.
            models.Index(fields=["party", "party_position"], name="party_member_order"),
            # The admin's search by name.
            models.Index(fields=["tenant", "name"], name="party_character_by_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name or '?'} ({self.character_id})"

    @property
    def party_number(self) -> int:
        """The wire's ``partyId`` of this character: 0 when in no party."""
        return self.party.party_id if self.party_id else 0
