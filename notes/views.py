"""REST of notes: views parse, call one selector or service, render.

Upstream's answers are kept: a missing note is a 500 with the library's error
body, never a 404; POST answers 200, not 201; validation failures are a 400 with
an empty body; a character-wide delete is a 204 even with nothing to delete.
Writes run in the request's cause (environment, trace) so the status events they
emit carry it, like records caused by a consumed message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from django import db
from django.db import transaction
from django.http import HttpResponse

from notes import selectors, services
from notes.models import Note
from notes.paging import IdOrderedPages
from project import rest
from project.messaging import bus, wire
from project.messaging.schemas import U8, U32, GoSchema, Str, Time

logger = logging.getLogger(__name__)

RESOURCE = "notes"
# A standard collection: default 50, at most 250 per page.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 250


class NoteAttributes(GoSchema):
    """POST/PATCH attributes; ``timestamp`` must be RFC 3339 if sent, and is ignored."""

    characterId = U32()
    senderId = U32()
    message = Str()
    flag = U8()
    timestamp = Time()


class NoteResourceAttributes(GoSchema):
    """What ``note_resource`` renders, for the API document (docs/api.md)."""

    characterId = U32()
    senderId = U32()
    message = Str()
    flag = U8()
    timestamp = Time()


NOTES = rest.ResourceType(RESOURCE, NoteResourceAttributes)


def note_resource(note: Note) -> rest.Resource:
    return rest.Resource(
        RESOURCE,
        str(note.pk),
        {
            "characterId": note.character_id,
            "senderId": note.sender_id,
            "message": note.message,
            "flag": note.flag,
            "timestamp": wire.go_time(note.timestamp),
        },
    )


# --- errors -----------------------------------------------------------------------


def _processor_error(status: int, title: str) -> rest.HttpError:
    """Upstream's ``WriteErrorResponse``: the error document and a newline.

    PLATFORM: ``rest.error`` and the routing's catch-all 500/503 write the same
    document without the trailing newline (a json.Encoder writes one); a
    ``rest.processor_error(status)`` would let every app answer like upstream.
    """
    body = wire.dumps({"errors": [{"status": str(status), "title": title}]}) + b"\n"
    headers = {"Retry-After": "1"} if status == 503 else {}
    return rest.HttpError(status, body, headers)


@contextlib.contextmanager
def _processor(request: rest.Request) -> Iterator[None]:
    """Run a service as upstream's processor: refused → 500, database down → 503.

    In one transaction with the tenant's row, so a refused write leaves no tenant
    behind either (a read never creates one)."""
    try:
        with bus.caused_by(request.cause), transaction.atomic():
            yield
    except services.NoteError as refused:
        if refused.status < 500:
            raise  # rest.route answers its status with an empty body
        logger.info("notes REST %s %s: %s", request.method, request.path, refused.reason)
        raise _processor_error(refused.status, "internal server error") from None
    except (db.OperationalError, db.InterfaceError):
        logger.exception("notes REST %s %s: database unavailable", request.method, request.path)
        raise _processor_error(503, "temporarily unavailable") from None


def _listing(request: rest.Request, notes) -> HttpResponse:
    """A page of notes; a database failure is a 500 with an empty body."""
    try:
        return rest.collection(
            request,
            IdOrderedPages(notes),
            note_resource,
            default_size=DEFAULT_PAGE_SIZE,
            max_size=MAX_PAGE_SIZE,
        )
    except db.DatabaseError:
        logger.exception("notes REST %s: listing failed", request.path)
        raise rest.HttpError(500) from None


def _path_id(text: str) -> int:
    """Upstream parses path ids as signed decimals and truncates them to 32 bits."""
    return rest.parse_int_truncated_u32(text)


def _note_fields(body: rest.Body) -> dict:
    attributes = body.attributes
    fields = {
        "character_id": attributes["characterId"],
        "sender_id": attributes["senderId"],
        "message": attributes["message"],
        "flag": attributes["flag"],
    }
    # Validation happens before the processor runs: a 400, empty body.
    if services.note_problem(
        character_id=fields["character_id"],
        sender_id=fields["sender_id"],
        message=fields["message"],
    ):
        raise rest.BadRequest()
    return fields


# --- views ------------------------------------------------------------------------


def notes_list(request: rest.Request) -> HttpResponse:
    """GET /api/notes: every note of the tenant, by id."""
    return _listing(request, selectors.notes_live(tenant=request.tenant))


def note_create(request: rest.Request) -> HttpResponse:
    """POST /api/notes: 200 with the new note; CREATED with the nil transaction id."""
    fields = _note_fields(rest.read_body(request, RESOURCE, NoteAttributes))
    with _processor(request):
        note = services.note_create(tenant=request.tenant, **fields)
    return rest.single(request, note_resource(note))


def note_get(request: rest.Request, noteId: str) -> HttpResponse:
    """GET /api/notes/{noteId}: a missing note is a 500, as upstream."""
    note_id = _path_id(noteId)
    with _processor(request):
        note = selectors.note_get(tenant=request.tenant, note_id=note_id)
        if note is None:
            raise services.NoteNotFound(f"note {note_id} not found")
    return rest.single(request, note_resource(note))


def note_update(request: rest.Request, noteId: str) -> HttpResponse:
    """PATCH /api/notes/{noteId}: ``data.id`` must name the same note; 200 re-read."""
    note_id = _path_id(noteId)
    body = rest.read_body(request, RESOURCE, NoteAttributes)
    if rest.parse_int_truncated_u32(body.id) != note_id:
        raise rest.BadRequest()
    fields = _note_fields(body)
    with _processor(request):
        note = services.note_update(tenant=request.tenant, note_id=note_id, **fields)
    return rest.single(request, note_resource(note))


def note_delete(request: rest.Request, noteId: str) -> HttpResponse:
    """DELETE /api/notes/{noteId}: 204; a missing note is a 500."""
    note_id = _path_id(noteId)
    with _processor(request):
        services.note_delete(tenant=request.tenant, note_id=note_id)
    return rest.no_content()


def character_notes(request: rest.Request, characterId: str) -> HttpResponse:
    """GET /api/characters/{characterId}/notes: the character's notes, by id."""
    character_id = _path_id(characterId)
    return _listing(
        request, selectors.notes_of_character(tenant=request.tenant, character_id=character_id)
    )


def character_notes_delete(request: rest.Request, characterId: str) -> HttpResponse:
    """DELETE /api/characters/{characterId}/notes: 204, one DELETED per note."""
    character_id = _path_id(characterId)
    with _processor(request):
        services.notes_delete_for_character(tenant=request.tenant, character_id=character_id)
    return rest.no_content()
