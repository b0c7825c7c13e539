"""REST routes of messengers, mounted under /api/ (spec/messengers.md §9)."""

from messengers import views
from project import rest

urlpatterns = rest.routes(
    rest.route("messengers", GET=views.messengers_list),
    rest.route("messengers/{messengerId}", GET=views.messenger_get),
    rest.route("messengers/{messengerId}/members", GET=views.members_list, POST=views.member_join),
    rest.route("messengers/{messengerId}/relationships/members", GET=views.members_list),
    rest.route(
        "messengers/{messengerId}/members/{memberId}",
        GET=views.member_get,
        DELETE=views.member_leave,
    ),
)
