"""REST routes of notes, mounted under /api/."""

from notes import views
from project import rest

NOTES = rest.many(views.NOTES, page_size=views.DEFAULT_PAGE_SIZE, max_page_size=views.MAX_PAGE_SIZE)
BODY = rest.RequestDocument(views.RESOURCE, views.NoteAttributes)
REFUSED = "the service refused the change, or the note does not exist (as upstream)"

urlpatterns = rest.routes(
    rest.route(
        "notes",
        GET=rest.op(views.notes_list, summary="Every note of the tenant, by id", returns=NOTES),
        POST=rest.op(
            views.note_create,
            summary="Create a note (answers 200 with it, as upstream)",
            body=BODY,
            returns=rest.one(views.NOTES),
            errors={500: REFUSED},
        ),
    ),
    rest.route(
        "notes/{noteId}",
        GET=rest.op(
            views.note_get,
            summary="One note",
            returns=rest.one(views.NOTES),
            errors={500: rest.UPSTREAM_500},
        ),
        PATCH=rest.op(
            views.note_update,
            summary="Change a note (data.id must name it)",
            body=BODY,
            returns=rest.one(views.NOTES),
            errors={500: REFUSED},
        ),
        DELETE=rest.op(
            views.note_delete,
            summary="Delete a note",
            returns=rest.no_body(204),
            errors={500: rest.UPSTREAM_500},
        ),
    ),
    rest.route(
        "characters/{characterId}/notes",
        GET=rest.op(views.character_notes, summary="The character's notes, by id", returns=NOTES),
        DELETE=rest.op(
            views.character_notes_delete,
            summary="Delete every note of the character",
            returns=rest.no_body(204),
            errors={500: REFUSED},
        ),
    ),
)
