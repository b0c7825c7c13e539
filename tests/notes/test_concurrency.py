"""Note services racing each other on real connections (one per thread).

On SQLite writers are serialised, so these show the outcome is right whatever
the order; on PostgreSQL the transactions really interleave and the row locks
do the work.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from notes import services
from notes.models import Note
from tests.notes.support import create, sagas, statuses
from tests.support import new_tenant, run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_racing_discards_of_one_note_delete_it_once_and_award_fame_once():
    tenant = new_tenant()
    notes = [create(tenant, sender_id=100 + i) for i in range(3)]
    ids = [n.pk for n in notes]

    def discard(order: list[int]) -> Callable[[], object]:
        return lambda: services.notes_discard(
            tenant=tenant, world_id=1, channel_id=1, character_id=200, note_ids=order
        )

    results = run_together([discard(ids), discard(ids[::-1]), discard(ids[1:]), discard(ids)])

    # exactly one discard won (all or nothing: a loser finds a note gone and changes nothing)
    winners = [r for r in results if r]
    assert len(winners) == 1
    won = {n.pk for n in winners[0]}
    assert won in ({*ids}, {*ids[1:]})  # whichever came first: all three, or the last two
    live = Note.objects.filter(tenant=tenant, deleted_at__isnull=True)
    assert set(live.values_list("id", flat=True)) == set(ids) - won
    deleted = [e for e in statuses(tenant) if e["type"] == "DELETED"]
    assert sorted(e["body"]["noteId"] for e in deleted) == sorted(n.pk for n in winners[0])
    assert len(sagas(tenant)) == len(winners[0])


def test_a_discard_racing_a_character_delete_never_emits_twice():
    tenant = new_tenant()
    ids = [create(tenant).pk for _ in range(20)]

    run_together(
        [
            lambda: services.notes_discard(
                tenant=tenant, world_id=0, channel_id=0, character_id=200, note_ids=ids[::2]
            ),
            lambda: services.notes_delete_for_character(tenant=tenant, character_id=200),
        ]
    )

    deleted = [e["body"]["noteId"] for e in statuses(tenant) if e["type"] == "DELETED"]
    assert sorted(deleted) == ids
    assert not Note.objects.filter(tenant=tenant, deleted_at__isnull=True).exists()
    assert len(sagas(tenant)) in (0, 10)


def test_racing_deletes_of_one_note_emit_one_deleted():
    tenant = new_tenant()
    note = create(tenant)

    def delete() -> object:
        try:
            return services.note_delete(tenant=tenant, note_id=note.pk)
        except services.NoteNotFound:
            return None

    results = run_together([delete, delete, delete])
    assert len([r for r in results if r is not None]) == 1
    assert [e["type"] for e in statuses(tenant)] == ["CREATED", "DELETED"]
