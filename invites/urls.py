"""REST routes of invites, mounted under /api/ (spec/invites.md §8)."""

from invites import views
from project import rest

urlpatterns = rest.routes(
    rest.route("characters/{characterId}/invites", GET=views.character_invites),
)
