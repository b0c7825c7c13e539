"""REST routes of parties, mounted under /api/ (spec/parties.md §12)."""

from parties import views
from project import rest

urlpatterns = rest.routes(
    rest.route("parties", GET=views.parties_list, POST=views.party_create),
    rest.route("parties/{partyId}", GET=views.party_get, PATCH=views.party_update),
    rest.route("parties/{partyId}/members", GET=views.members_list, POST=views.member_add),
    rest.route("parties/{partyId}/relationships/members", GET=views.members_list),
    rest.route(
        "parties/{partyId}/members/{memberId}",
        GET=views.member_get,
        DELETE=views.member_remove,
    ),
)
