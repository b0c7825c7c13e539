"""REST routes of parties, mounted under /api/."""

from parties import views
from project import rest

PARTY_BODY = rest.RequestDocument("parties", views.PartyAttributes)

urlpatterns = rest.routes(
    rest.route(
        "parties",
        GET=rest.op(
            views.parties_list,
            summary="Parties by id",
            returns=rest.many(
                views.PARTIES, page_size=views.PAGE_SIZE, max_page_size=views.MAX_PAGE_SIZE
            ),
            query=[views.MEMBER_FILTER_QUERY],
        ),
        POST=rest.op(
            views.party_create,
            summary="CREATE command of the one member named (its leader)",
            body=rest.RequestDocument("parties", views.PartyAttributes, relationships=("members",)),
            returns=rest.no_body(202),
        ),
    ),
    rest.route(
        "parties/{partyId}",
        GET=rest.op(
            views.party_get,
            summary="One party, its members included",
            returns=rest.one(views.PARTIES),
            errors={404: "no such party"},
        ),
        PATCH=rest.op(
            views.party_update,
            summary="CHANGE_LEADER command to the leaderId given",
            body=PARTY_BODY,
            returns=rest.no_body(202),
            errors={404: "no such party"},
        ),
    ),
    rest.member_routes(
        "parties/{partyId}",
        "party",
        views.MEMBERS,
        page_size=views.MEMBERS_PAGE_SIZE,
        list_view=views.members_list,
        join_view=views.member_add,
        get_view=views.member_get,
        leave_view=views.member_remove,
    ),
)
