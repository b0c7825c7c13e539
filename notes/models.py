"""Notes: short messages to one character from another.

One table, like upstream's ``notes``: soft-deleted rows stay (``deleted_at`` set)
and are invisible to every read, update and delete.
"""

from __future__ import annotations

from django.db import models

from project.tenancy.models import Tenant

LIVE = models.Q(deleted_at__isnull=True)


class Note(models.Model):
    """A note to ``character_id`` (the owner) written by ``sender_id``.

    The note id is the primary key itself: one sequence for every tenant,
    starting at 1 and never reused, as upstream's auto-increment.

    Upstream scopes notes by the tenant **id** only; region and versions do not
    partition them. So every query filters on
    ``tenant_uuid`` (a copy of ``tenant.uuid``); ``tenant`` is the full tenant
    that created the row, kept for the admin and the project's tenant rule.

    The indexes are partial (live rows only), so a tenant's discarded history
    does not slow down its listings; see benchmarks/notes_scale.py for plans.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False)
    tenant_uuid = models.UUIDField(help_text="the tenant id that scopes this note")
    character_id = models.PositiveBigIntegerField(help_text="owner / recipient (uint32)")
    sender_id = models.PositiveBigIntegerField(help_text="author (uint32)")
    # No length limit anywhere upstream: text.
    message = models.TextField()
    timestamp = models.DateTimeField(help_text="creation time; reset by a REST update")
    flag = models.PositiveSmallIntegerField(default=0, help_text="opaque uint8")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="soft delete (discarded)")

    class Meta:
        indexes = [
            # A character's notes by id: the REST listing (first and last page,
            # count), DISCARD and character deletion.
            models.Index(
                fields=["tenant_uuid", "character_id", "id"],
                condition=LIVE,
                name="note_live_by_character",
            ),
            # A tenant's notes by id: GET /api/notes.
            models.Index(fields=["tenant_uuid", "id"], condition=LIVE, name="note_live_by_tenant"),
            # How many live notes a tenant has: GET /api/notes' meta.total, read on every
            # page. PostgreSQL's B-tree stores the one repeated tenant id once per leaf
            # page (deduplication), so an index-only count reads a few bytes a note
            # instead of the 40 of note_live_by_tenant or the table itself: 32 instead
            # of 80-110 ms for a tenant of 1,000,000 (benchmarks/notes_scale.py). On
            # SQLite it is note_live_by_tenant again (the row id ends every index).
            models.Index(fields=["tenant_uuid"], condition=LIVE, name="note_live_count_by_tenant"),
            # The admin's search by sender.
            models.Index(fields=["sender_id"], name="note_by_sender"),
        ]

    def __str__(self) -> str:
        return f"note {self.pk}: {self.sender_id} → {self.character_id}"

    @property
    def note_id(self) -> int:
        return self.pk

    @property
    def is_read(self) -> bool:
        """Discarded notes are the ones their owner read (the client discards on read)."""
        return self.deleted_at is not None
