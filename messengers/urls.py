"""REST routes of messengers, mounted under /api/."""

from messengers import views
from project import rest

MEMBERS = rest.many(
    views.MEMBERS, page_size=views.MEMBERS_PAGE_SIZE, max_page_size=views.MEMBERS_PAGE_SIZE
)

urlpatterns = rest.routes(
    rest.route(
        "messengers",
        GET=rest.op(
            views.messengers_list,
            summary="Messengers by id",
            returns=rest.many(
                views.MESSENGERS, page_size=views.PAGE_SIZE, max_page_size=views.MAX_PAGE_SIZE
            ),
            query=[views.MEMBER_FILTER_QUERY],
        ),
    ),
    rest.route(
        "messengers/{messengerId}",
        GET=rest.op(
            views.messenger_get,
            summary="One messenger, its members included",
            returns=rest.one(views.MESSENGERS),
            errors={404: "no such messenger"},
        ),
    ),
    rest.route(
        "messengers/{messengerId}/members",
        GET=rest.op(
            views.members_list,
            summary="The messenger's members by character id",
            returns=MEMBERS,
            errors={500: rest.UPSTREAM_500},
        ),
        POST=rest.op(
            views.member_join,
            summary="JOIN command of the member (data.id: the character id)",
            body=rest.RequestDocument("members", views.MemberAttributes),
            returns=rest.no_body(202),
        ),
    ),
    rest.route(
        "messengers/{messengerId}/relationships/members",
        GET=rest.op(
            views.members_list,
            summary="The messenger's members by character id",
            returns=MEMBERS,
            errors={500: rest.UPSTREAM_500},
        ),
    ),
    rest.route(
        "messengers/{messengerId}/members/{memberId}",
        GET=rest.op(
            views.member_get,
            summary="One member of the messenger",
            returns=rest.one(views.MEMBERS),
            errors={404: "not a member", 500: rest.UPSTREAM_500},
        ),
        DELETE=rest.op(
            views.member_leave,
            summary="LEAVE command of the member",
            returns=rest.no_body(202),
        ),
    ),
)
