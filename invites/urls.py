"""REST routes of invites, mounted under /api/."""

from invites import views
from project import rest

urlpatterns = rest.routes(
    rest.get_route(
        "characters/{characterId}/invites",
        views.character_invites,
        summary="The invites the character received",
        returns=rest.many(views.INVITES, page_size=views.PAGE_SIZE, max_page_size=views.PAGE_SIZE),
    ),
)
