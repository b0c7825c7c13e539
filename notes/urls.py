"""REST routes of notes, mounted under /api/ (spec/notes.md §8.4)."""

from notes import views
from project import rest

urlpatterns = rest.routes(
    rest.route("notes", GET=views.notes_list, POST=views.note_create),
    rest.route(
        "notes/{noteId}", GET=views.note_get, PATCH=views.note_update, DELETE=views.note_delete
    ),
    rest.route(
        "characters/{characterId}/notes",
        GET=views.character_notes,
        DELETE=views.character_notes_delete,
    ),
)
