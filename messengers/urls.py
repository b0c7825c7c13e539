"""REST routes of messengers, mounted under /api/."""

from messengers import views
from project import rest

urlpatterns = rest.routes(
    rest.get_route(
        "messengers",
        views.messengers_list,
        summary="Messengers by id",
        returns=rest.many(
            views.MESSENGERS, page_size=views.PAGE_SIZE, max_page_size=views.MAX_PAGE_SIZE
        ),
        query=[views.MEMBER_FILTER_QUERY],
    ),
    rest.get_route(
        "messengers/{messengerId}",
        views.messenger_get,
        summary="One messenger, its members included",
        returns=rest.one(views.MESSENGERS),
        errors={404: "no such messenger"},
    ),
    rest.member_routes(
        "messengers/{messengerId}",
        "messenger",
        views.MEMBERS,
        page_size=views.MEMBERS_PAGE_SIZE,
        list_view=views.members_list,
        join_view=views.member_join,
        get_view=views.member_get,
        leave_view=views.member_leave,
    ),
)
