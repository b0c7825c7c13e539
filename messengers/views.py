"""REST of messengers: reads, and JOIN / LEAVE commands via the outbox.

Checks run in upstream's order: tenant headers (the route), request body (POST),
path ids, page parameters, ``filter[members.id]``, then the lookup. Path and
filter ids are read as ``strconv.Atoi`` then a ``uint32`` cast (``-1`` is
4294967295). Member attributes come from the character registry; every seated
character has a record (a seat is only taken after its lookup), so rendering
needs no outside call.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponse

from messengers import messages, selectors
from messengers.models import Member, Messenger
from project import rest
from project.messaging.schemas import U8, Bool, GoSchema, Str

# Standard collection (GET /messengers) and "game-capped" list (members).
PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
MEMBERS_PAGE_SIZE = 250

MEMBER_FILTER = "filter[members.id]"


class MemberAttributes(GoSchema):
    """POST body attributes: optional and ignored, but decoded, so a wrong type is a 400."""

    name = Str()
    worldId = U8()
    channelId = U8()
    online = Bool()
    slot = U8()


class MessengerAttributes(GoSchema):
    """A messenger has no attributes: its members are its relationship."""


# The resources as rendered (members: the same attributes as the body read), for the
# API document.
MEMBERS = rest.ResourceType("members", MemberAttributes)
MESSENGERS = rest.ResourceType("messengers", MessengerAttributes, {"members": MEMBERS})
MEMBER_FILTER_QUERY = rest.Query(
    MEMBER_FILTER, "only the messenger seating this character (an id, as path ids)"
)

# --- documents ---------------------------------------------------------------------------


def member_resource(member: Member) -> rest.Resource:
    """A member from a row annotated by ``selectors`` with its registry record."""
    if member.registered_name is None:
        # Unreachable while seats are only taken after a lookup; upstream answers
        # a failed member lookup with 500 for the whole response.
        raise rest.HttpError(500)
    return rest.Resource(
        "members",
        str(member.character_id),
        {
            "name": member.registered_name,
            "worldId": member.registered_world_id,
            "channelId": member.registered_channel_id,
            "online": member.registered_online,
            "slot": member.slot,
        },
    )


def messenger_resource(messenger: Messenger) -> rest.Resource:
    """No attributes; ``members`` in seating (insertion) order, rendered in ``included``."""
    return rest.Resource(
        "messengers",
        str(messenger.messenger_id),
        {},
        relationships={"members": [member_resource(m) for m in messenger.members.all()]},
    )


# --- views -------------------------------------------------------------------------------


def messengers_list(request: rest.Request) -> HttpResponse:
    """All messengers by id, or the one seating ``filter[members.id]``."""
    rest.Page.from_request(request, default_size=PAGE_SIZE, max_size=MAX_PAGE_SIZE)
    member_id = rest.query_id(request, MEMBER_FILTER)
    found = selectors.messengers(tenant=request.tenant, member_id=member_id)
    return rest.collection(
        request, found, messenger_resource, default_size=PAGE_SIZE, max_size=MAX_PAGE_SIZE
    )


def messenger_get(request: rest.Request, messengerId: str) -> HttpResponse:
    messenger = _messenger(
        request, rest.parse_int_truncated_u32(messengerId), missing=rest.NotFound()
    )
    return rest.single(request, messenger_resource(messenger))


def members_list(request: rest.Request, messengerId: str) -> HttpResponse:
    """Members by character id; an unknown messenger is a 500, as upstream."""
    messenger_id = rest.parse_int_truncated_u32(messengerId)
    rest.Page.from_request(request, default_size=MEMBERS_PAGE_SIZE, max_size=MEMBERS_PAGE_SIZE)
    messenger = _messenger(request, messenger_id, missing=rest.HttpError(500))
    return rest.collection(
        request,
        selectors.members_by_character_id(messenger=messenger),
        member_resource,
        default_size=MEMBERS_PAGE_SIZE,
        max_size=MEMBERS_PAGE_SIZE,
    )


def member_get(request: rest.Request, messengerId: str, memberId: str) -> HttpResponse:
    messenger_id = rest.parse_int_truncated_u32(messengerId)
    member_id = rest.parse_int_truncated_u32(memberId)
    messenger = _messenger(request, messenger_id, missing=rest.HttpError(500))
    member = rest.found(
        selectors.members_by_character_id(messenger=messenger)
        .filter(character_id=member_id)
        .first()
    )
    return rest.single(request, member_resource(member))


def member_join(request: rest.Request, messengerId: str) -> HttpResponse:
    """POST a ``members`` resource: a JOIN command for it; the answer comes on Kafka."""
    body = rest.read_body(request, "members", MemberAttributes)
    character_id = rest.parse_int_truncated_u32(body.id)
    messenger_id = rest.parse_int_truncated_u32(messengerId)
    return _command(request, messages.COMMAND_JOIN, character_id, messenger_id)


def member_leave(request: rest.Request, messengerId: str, memberId: str) -> HttpResponse:
    """DELETE a member: a LEAVE command for it."""
    messenger_id = rest.parse_int_truncated_u32(messengerId)
    character_id = rest.parse_int_truncated_u32(memberId)
    return _command(request, messages.COMMAND_LEAVE, character_id, messenger_id)


# --- helpers -----------------------------------------------------------------------------


def _messenger(request: rest.Request, messenger_id: int, *, missing: rest.HttpError) -> Messenger:
    return rest.found(
        selectors.messenger(tenant=request.tenant, messenger_id=messenger_id), missing
    )


def _command(
    request: rest.Request, command_type: str, character_id: int, messenger_id: int
) -> HttpResponse:
    """Buffer the command (fresh transaction id, keyed by the member) and answer 202."""
    rest.emit_command(
        request,
        topic=messages.COMMAND_TOPIC_MESSENGER,
        key=messages.command_key(character_id),
        value=messages.member_command(
            command_type=command_type,
            transaction_id=uuid.uuid4(),
            actor_id=character_id,
            messenger_id=messenger_id,
        ),
    )
    return rest.accepted()
