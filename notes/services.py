"""The note operations: every write to notes happens here.

Each service takes a tenant and plain values, runs in one ``transaction.atomic()``
(a savepoint when the inbox task or a REST request already opened one) and
buffers what it produces with ``bus.emit`` in the same transaction, so a status
event or a fame saga leaves only for a change that was committed. Rows are
locked (``select_for_update``) before they are soft-deleted or updated, so two
DISCARDs of one note cannot both delete it and award fame twice.

The same functions serve Kafka (``handlers``), REST (``views``) and the admin.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from notes import messages, selectors
from notes.models import Note
from project.messaging import bus, errors
from project.messaging.errors import DomainError, Record
from project.tenancy.models import Tenant

logger = logging.getLogger(__name__)

NIL_UUID = messages.NIL_UUID
# Ids per soft-delete statement of a character-wide delete (SQLite's bound-parameter limit).
DELETE_CHUNK = 1000

# PostgreSQL refuses a NUL character in a text value and upstream echoes its error
# as the CREATE_FAILED reason; refused the same way on every database here.
NUL_REASON = 'ERROR: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)'


class NoteError(DomainError):
    """A note operation was refused; ``reason`` is the text upstream reports (a Kafka
    CREATE's CREATE_FAILED carries it). REST answers upstream's processor error, 500."""

    status = 500


class InvalidNote(NoteError):
    """The note fails upstream's builder checks: REST answers 400."""

    status = 400


class UnstorableNote(NoteError):
    """The database would refuse the note (a NUL character): REST answers 500."""


class UnpublishableNote(InvalidNote):
    """The note's status event would be over the producer's record limit
    (``bus.MAX_RECORD_BYTES``): refused before anything is stored, REST answers 400,
    a Kafka CREATE is answered CREATE_FAILED with this reason."""


class NoteNotFound(NoteError):
    """No live note with this id in the tenant: REST answers 500, as upstream."""


@contextlib.contextmanager
def _publishable() -> Iterator[None]:
    """Outside the transaction: a too-large event has rolled the note back."""
    try:
        yield
    except bus.RecordTooLarge as exc:
        raise UnpublishableNote(str(exc)) from None


def note_problem(*, character_id: int, sender_id: int, message: str) -> str:
    """Upstream's validation, in its order, first failure only; ``""`` if valid."""
    if character_id == 0:
        return "characterId is required"
    if sender_id == 0:
        return "senderId is required"
    if message == "":
        return "message is required"
    return ""


def note_check(*, character_id: int, sender_id: int, message: str) -> None:
    """Raise ``InvalidNote`` / ``UnstorableNote`` for a note that cannot be stored."""
    problem = note_problem(character_id=character_id, sender_id=sender_id, message=message)
    if problem:
        raise InvalidNote(problem)
    if "\x00" in message:
        raise UnstorableNote(NUL_REASON)


def note_create(
    *,
    tenant: Tenant,
    character_id: int,
    sender_id: int,
    message: str,
    flag: int,
    transaction_id: uuid.UUID = NIL_UUID,
) -> Note:
    """Store a new note and emit CREATED; raises ``NoteError`` if refused.

    No check that either character exists and no limit per character, as upstream.
    """
    note_check(character_id=character_id, sender_id=sender_id, message=message)
    with _publishable(), transaction.atomic():
        now = timezone.now()
        note = Note.objects.create(
            tenant=tenant,
            tenant_uuid=tenant.uuid,
            character_id=character_id,
            sender_id=sender_id,
            message=message,
            flag=flag,
            timestamp=now,
            created_at=now,
            updated_at=now,
        )
        bus.emit(
            tenant=tenant,
            topic=messages.EVENT_TOPIC_NOTE_STATUS,
            key=messages.status_key(character_id),
            value=messages.created_event(
                transaction_id=transaction_id,
                character_id=character_id,
                note_id=note.pk,
                sender_id=sender_id,
                message=message,
                flag=flag,
                time=now,
            ),
        )
    return note


@errors.answered
def note_create_command(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    character_id: int,
    sender_id: int,
    message: str,
    flag: int,
) -> Note | None:
    """Kafka CREATE: a refused note is answered with CREATE_FAILED instead.

    CREATE_FAILED echoes the command's transaction id (nil if none), its
    characterId (possibly 0) as envelope and key, its senderId and the refusal's
    reason. Nothing was written, so the event is emitted on its own. (A CREATE the
    inbox gives up on, e.g. after a lasting database error, is answered the same
    way: ``handlers``.)
    """
    try:
        return note_create(
            tenant=tenant,
            character_id=character_id,
            sender_id=sender_id,
            message=message,
            flag=flag,
            transaction_id=transaction_id,
        )
    except NoteError as refused:
        failed = create_failed_record(
            transaction_id=transaction_id,
            character_id=character_id,
            sender_id=sender_id,
            reason=refused.reason,
        )
        raise DomainError(
            f"note CREATE for {character_id} in {tenant} (transaction {transaction_id}) failed:"
            f" {refused.reason}",
            events=[failed],
        ) from refused


def create_failed_record(*, character_id: int, **fields: Any) -> Record:
    """The CREATE_FAILED status event answering a CREATE (``messages.create_failed_event``'s
    fields): keyed by the owner."""
    return Record(
        topic=messages.EVENT_TOPIC_NOTE_STATUS,
        key=messages.status_key(character_id),
        value=messages.create_failed_event(character_id=character_id, **fields),
    )


@errors.answered(refused=list)
def notes_discard(
    *,
    tenant: Tenant,
    world_id: int,
    channel_id: int,
    character_id: int,
    note_ids: list[int],
) -> list[Note]:
    """The owner discards (reads) notes: all of them or none.

    In list order: an id that is not a live note of the tenant (unknown, 0,
    deleted, another tenant's, or named twice) fails the whole discard —
    nothing changes, nothing is emitted, the failure is only logged. A note of
    another owner is skipped. Each discarded note gets a DELETED event and,
    unless it is a self-note or a system note (sender 0), a fame saga for its
    sender; all DELETED events come first, then the sagas, both in list order.
    Returns the discarded notes (empty on failure).
    """
    if not note_ids:
        return []
    with transaction.atomic():
        # One query locks them all, in id order (no deadlock between two discards).
        found = {
            note.pk: note
            for note in selectors.notes_by_ids(tenant=tenant, note_ids=note_ids)
            .select_for_update()
            .order_by("id")
        }
        discarded: list[Note] = []
        for note_id in note_ids:
            note = found.get(note_id)
            if note is None:
                raise DomainError(
                    f"note DISCARD of {note_ids} by {character_id} in {tenant} failed,"
                    f" nothing discarded: note {note_id} not found"
                )
            if note.character_id != character_id:
                continue  # skipped, still there: naming it again skips it again
            discarded.append(note)
            del found[note_id]  # deleted: naming it again fails, as upstream
        if discarded:
            ids = [note.pk for note in discarded]
            _soft_delete(selectors.notes_by_ids(tenant=tenant, note_ids=ids), len(ids))
        for note in discarded:
            _emit_deleted(tenant=tenant, character_id=character_id, note_id=note.pk)
        now = timezone.now()
        for note in discarded:
            if note.sender_id in (0, character_id):
                continue
            saga_id = uuid.uuid4()
            bus.emit(
                tenant=tenant,
                topic=messages.COMMAND_TOPIC_SAGA,
                key=messages.saga_key(saga_id),
                value=messages.fame_saga(
                    transaction_id=saga_id,
                    sender_id=note.sender_id,
                    note_id=note.pk,
                    world_id=world_id,
                    channel_id=channel_id,
                    now=now,
                ),
            )
    return discarded


def notes_delete_for_character(*, tenant: Tenant, character_id: int) -> int:
    """Delete every note of a deleted character: one DELETED each, by id.

    Returns how many were deleted; no notes is a success with no events.
    """
    with transaction.atomic():
        note_ids = list(
            selectors.notes_of_character(tenant=tenant, character_id=character_id)
            .select_for_update()
            .values_list("id", flat=True)
        )
        if not note_ids:
            return 0
        # Exactly the locked rows: a note created meanwhile is not announced, so it stays.
        for start in range(0, len(note_ids), DELETE_CHUNK):
            chunk = note_ids[start : start + DELETE_CHUNK]
            _soft_delete(selectors.notes_by_ids(tenant=tenant, note_ids=chunk), len(chunk))
        for note_id in note_ids:
            _emit_deleted(tenant=tenant, character_id=character_id, note_id=note_id)
    logger.info("deleted %d notes of character %s in %s", len(note_ids), character_id, tenant)
    return len(note_ids)


def note_update(
    *,
    tenant: Tenant,
    note_id: int,
    character_id: int,
    sender_id: int,
    message: str,
    flag: int,
) -> Note:
    """Overwrite a note (REST PATCH) and emit UPDATED from the stored values.

    Owner, sender, message and flag are written as given (flag 0 included: the
    project's decision), ``timestamp`` becomes now. The owner may change; the
    event names the new one. Raises ``NoteError``; nothing changes then.
    """
    note_check(character_id=character_id, sender_id=sender_id, message=message)
    with _publishable(), transaction.atomic():
        note = selectors.note_get_for_update(tenant=tenant, note_id=note_id)
        if note is None:
            raise NoteNotFound(f"note {note_id} not found")
        now = timezone.now()
        note.character_id = character_id
        note.sender_id = sender_id
        note.message = message
        note.flag = flag
        note.timestamp = now
        note.updated_at = now
        note.save(
            update_fields=[
                "character_id",
                "sender_id",
                "message",
                "flag",
                "timestamp",
                "updated_at",
            ]
        )
        bus.emit(
            tenant=tenant,
            topic=messages.EVENT_TOPIC_NOTE_STATUS,
            key=messages.status_key(note.character_id),
            value=messages.updated_event(
                character_id=note.character_id,
                note_id=note.pk,
                sender_id=note.sender_id,
                message=note.message,
                flag=note.flag,
                time=note.timestamp,
            ),
        )
    return note


def note_delete(*, tenant: Tenant, note_id: int) -> Note:
    """Delete one note (REST DELETE, admin) and emit DELETED for its owner.

    No ownership check, as upstream. Raises ``NoteNotFound``.
    """
    with transaction.atomic():
        note = selectors.note_get_for_update(tenant=tenant, note_id=note_id)
        if note is None:
            raise NoteNotFound(f"note {note_id} not found")
        _soft_delete(selectors.notes_by_ids(tenant=tenant, note_ids=[note.pk]), 1)
        _emit_deleted(tenant=tenant, character_id=note.character_id, note_id=note.pk)
    return note


# --- helpers ----------------------------------------------------------------------


def _soft_delete(notes: QuerySet[Note], expected: int) -> None:
    """Mark the locked live notes of ``notes`` deleted, in one statement."""
    now = timezone.now()
    changed = notes.update(deleted_at=now, updated_at=now)
    if changed != expected:  # impossible while the rows are locked
        raise RuntimeError(f"soft delete changed {changed} rows, expected {expected}")


def _emit_deleted(*, tenant: Tenant, character_id: int, note_id: int) -> None:
    bus.emit(
        tenant=tenant,
        topic=messages.EVENT_TOPIC_NOTE_STATUS,
        key=messages.status_key(character_id),
        value=messages.deleted_event(character_id=character_id, note_id=note_id),
    )
