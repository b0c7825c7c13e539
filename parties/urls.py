"""REST routes of parties, mounted under /api/."""

from parties import views
from project import rest

MEMBERS = rest.many(
    views.MEMBERS, page_size=views.MEMBERS_PAGE_SIZE, max_page_size=views.MEMBERS_PAGE_SIZE
)
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
    rest.route(
        "parties/{partyId}/members",
        GET=rest.op(
            views.members_list,
            summary="The party's members by character id",
            returns=MEMBERS,
            errors={500: rest.UPSTREAM_500},
        ),
        POST=rest.op(
            views.member_add,
            summary="JOIN command of the member (data.id: the character id)",
            body=rest.RequestDocument("members", views.MemberAttributes),
            returns=rest.no_body(202),
        ),
    ),
    rest.route(
        "parties/{partyId}/relationships/members",
        GET=rest.op(
            views.members_list,
            summary="The party's members by character id",
            returns=MEMBERS,
            errors={500: rest.UPSTREAM_500},
        ),
    ),
    rest.route(
        "parties/{partyId}/members/{memberId}",
        GET=rest.op(
            views.member_get,
            summary="One member of the party",
            returns=rest.one(views.MEMBERS),
            errors={404: "not a member", 500: rest.UPSTREAM_500},
        ),
        DELETE=rest.op(
            views.member_remove,
            summary="LEAVE command of the member",
            returns=rest.no_body(202),
        ),
    ),
)
