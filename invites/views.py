"""REST of invites: the invites a character received."""

from __future__ import annotations

from django.http import HttpResponse

from invites import selectors
from invites.models import Invite
from project import rest
from project.messaging import wire
from project.messaging.schemas import U32, GoSchema, Str, Time

# "Game-capped" list: default and maximum page size 250.
PAGE_SIZE = 250


class InviteAttributes(GoSchema):
    """What ``invite_resource`` renders, for the API document (docs/api.md)."""

    type = Str()
    referenceId = U32()
    originatorId = U32()
    targetId = U32()
    age = Time(metadata={"description": "when the invite was created"})


INVITES = rest.ResourceType("invites", InviteAttributes)


def invite_resource(invite: Invite) -> rest.Resource:
    return rest.Resource(
        "invites",
        str(invite.invite_id),
        {
            "type": invite.invite_type,
            "referenceId": invite.reference_id,
            "originatorId": invite.originator_id,
            "targetId": invite.target_id,
            "age": wire.go_time(invite.created_at),
        },
    )


def character_invites(request: rest.Request, characterId: str) -> HttpResponse:
    """Invites whose target is the character, by id; the id is read as upstream's
    ``strconv.Atoi`` then ``uint32`` cast (``-1`` names 4294967295)."""
    target_id = rest.parse_int_truncated_u32(characterId)
    invites = selectors.invites_received(tenant=request.tenant, target_id=target_id)
    return rest.collection(
        request, invites, invite_resource, default_size=PAGE_SIZE, max_size=PAGE_SIZE
    )
