"""Reads of notes, for the services, REST and the admin.

Every read is scoped by the tenant id (``tenant.uuid``; region and versions do
not partition notes), sees only live rows (not soft-deleted)
and orders by id ascending. Each returns a lazy queryset, so a service can add
``select_for_update()`` and REST can page it.
"""

from __future__ import annotations

from django.db.models import QuerySet

from notes.models import Note
from project.tenancy.models import Tenant


def notes_live(*, tenant: Tenant) -> QuerySet[Note]:
    """Every live note of the tenant, by id (GET /api/notes).

    Two filters, so that the tenant comes first in the SQL (one ``filter`` sorts
    its keywords, which puts ``deleted_at`` first). SQLite's planner breaks a tie
    by that order: when its statistics say the tenant narrows nothing (a
    deployment of one tenant), ``deleted_at IS NULL AND tenant_uuid = ?`` scans
    the table for the count and for a page away from the first rows, while
    ``tenant_uuid = ? AND deleted_at IS NULL`` reads the live notes' index
    (benchmarks/notes_scale.py prints the plans).
    """
    return (
        Note.objects.filter(tenant_uuid=tenant.uuid).filter(deleted_at__isnull=True).order_by("id")
    )


def notes_of_character(*, tenant: Tenant, character_id: int) -> QuerySet[Note]:
    """A character's live notes, by id (GET /api/characters/{id}/notes)."""
    return notes_live(tenant=tenant).filter(character_id=character_id)


def notes_by_ids(*, tenant: Tenant, note_ids: list[int]) -> QuerySet[Note]:
    """The live notes among ``note_ids``, by id (DISCARD)."""
    return notes_live(tenant=tenant).filter(id__in=note_ids)


def note_get(*, tenant: Tenant, note_id: int) -> Note | None:
    """One live note of the tenant, or ``None`` (unknown, other tenant, deleted)."""
    return notes_live(tenant=tenant).filter(id=note_id).first()


def note_get_for_update(*, tenant: Tenant, note_id: int) -> Note | None:
    """``note_get``, locking the row until the caller's transaction ends."""
    return notes_live(tenant=tenant).filter(id=note_id).select_for_update().first()
