"""REST of parties: reads, and commands through the outbox.

Checks run in upstream's order: tenant headers (the route), request body
(POST/PATCH), path ids, page parameters, ``filter[members.id]``, then the lookup.
Path and filter ids are read as ``strconv.Atoi`` then a ``uint32`` cast (``-1`` is
4294967295). Member attributes come from the character cache; every member has
an entry (a character joins only after its lookup), so rendering needs no
outside call. Commands are answered 202; their outcome arrives on Kafka.
"""

from __future__ import annotations

from django.http import HttpResponse

from parties import messages, selectors
from parties.models import Character, Party
from project import rest
from project.messaging.schemas import U8, U16, U32, UUID, Bool, GoSchema, Str

PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
MEMBERS_PAGE_SIZE = 250  # a "game-capped" list

MEMBER_FILTER = "filter[members.id]"


class PartyAttributes(GoSchema):
    leaderId = U32()


class MemberAttributes(GoSchema):
    """POST body attributes: ignored, but decoded, so a wrong type is a 400."""

    name = Str()
    level = U8()
    jobId = U16()
    worldId = U8()
    channelId = U8()
    mapId = U32()
    instance = UUID()
    online = Bool()


# The resources as rendered (the same attributes as the bodies read), for the API document.
MEMBERS = rest.ResourceType("members", MemberAttributes)
PARTIES = rest.ResourceType("parties", PartyAttributes, {"members": MEMBERS})
MEMBER_FILTER_QUERY = rest.Query(
    MEMBER_FILTER, "only the party with this character among its members (an id, as path ids)"
)

# --- documents ---------------------------------------------------------------------------


def member_resource(character: Character) -> rest.Resource:
    return rest.Resource(
        "members",
        str(character.character_id),
        {
            "name": character.name,
            "level": character.level,
            "jobId": character.job_id,
            "worldId": character.world_id,
            "channelId": character.channel_id,
            "mapId": character.map_id,
            "instance": str(character.instance),
            "online": character.online,
        },
    )


def party_resource(party: Party) -> rest.Resource:
    """``members`` in party order, rendered in ``included``."""
    return rest.Resource(
        "parties",
        str(party.party_id),
        {"leaderId": party.leader_id},
        relationships={"members": [member_resource(m) for m in party.members_in_order]},
    )


# --- views -------------------------------------------------------------------------------


def parties_list(request: rest.Request) -> HttpResponse:
    """All parties by id, or those with ``filter[members.id]`` among the members."""
    rest.Page.from_request(request, default_size=PAGE_SIZE, max_size=MAX_PAGE_SIZE)
    member_id = rest.query_id(request, MEMBER_FILTER)
    found = selectors.parties_list(tenant=request.tenant, member_id=member_id)
    return rest.collection(
        request, found, party_resource, default_size=PAGE_SIZE, max_size=MAX_PAGE_SIZE
    )


def party_create(request: rest.Request) -> HttpResponse:
    """POST a ``parties`` resource with exactly one member: that member's CREATE."""
    body = rest.read_body(request, "parties", PartyAttributes)
    (leader_id,) = _member_ids(body, exactly=1)
    return _command(request, leader_id, messages.create_command(actor_id=leader_id))


def party_get(request: rest.Request, partyId: str) -> HttpResponse:
    party = _party(request, rest.parse_int_truncated_u32(partyId), missing=rest.NotFound())
    return rest.single(request, party_resource(party))


def party_update(request: rest.Request, partyId: str) -> HttpResponse:
    """PATCH ``leaderId``: a CHANGE_LEADER from the current leader (project decision:
    upstream sends actor 0, which the leader check would refuse)."""
    body = rest.read_body(request, "parties", PartyAttributes)
    party = _party(request, rest.parse_int_truncated_u32(partyId), missing=rest.NotFound())
    leader_id = body.attributes["leaderId"]
    if leader_id == party.leader_id:
        return rest.accepted()
    return _command(
        request,
        leader_id,
        messages.change_leader_command(
            actor_id=party.leader_id, party_id=party.party_id, leader_id=leader_id
        ),
    )


def members_list(request: rest.Request, partyId: str) -> HttpResponse:
    """Members by character id; an unknown party is a 500, as upstream."""
    party_id = rest.parse_int_truncated_u32(partyId)
    rest.Page.from_request(request, default_size=MEMBERS_PAGE_SIZE, max_size=MEMBERS_PAGE_SIZE)
    party = _party(request, party_id, missing=rest.HttpError(500))
    members = sorted(party.members_in_order, key=lambda member: member.character_id)
    return rest.collection(
        request,
        members,
        member_resource,
        default_size=MEMBERS_PAGE_SIZE,
        max_size=MEMBERS_PAGE_SIZE,
    )


def member_add(request: rest.Request, partyId: str) -> HttpResponse:
    """POST a ``members`` resource: its JOIN; the party is not checked."""
    body = rest.read_body(request, "members", MemberAttributes)
    party_id = rest.parse_int_truncated_u32(partyId)
    character_id = rest.parse_int_truncated_u32(body.id)
    return _command(
        request, character_id, messages.join_command(actor_id=character_id, party_id=party_id)
    )


def member_get(request: rest.Request, partyId: str, memberId: str) -> HttpResponse:
    """Unknown party 500 (quirk), not a member 404."""
    party_id = rest.parse_int_truncated_u32(partyId)
    member_id = rest.parse_int_truncated_u32(memberId)
    party = _party(request, party_id, missing=rest.HttpError(500))
    for member in party.members_in_order:
        if member.character_id == member_id:
            return rest.single(request, member_resource(member))
    raise rest.NotFound()


def member_remove(request: rest.Request, partyId: str, memberId: str) -> HttpResponse:
    """DELETE a member: his LEAVE, no membership check."""
    party_id = rest.parse_int_truncated_u32(partyId)
    character_id = rest.parse_int_truncated_u32(memberId)
    return _command(
        request, character_id, messages.leave_command(actor_id=character_id, party_id=party_id)
    )


# --- helpers -----------------------------------------------------------------------------


def _command(request: rest.Request, character_id: int, command: dict) -> HttpResponse:
    """Buffer the party command (keyed by the character it names) and answer 202."""
    rest.emit_command(
        request,
        topic=messages.COMMAND_TOPIC_PARTY,
        key=messages.command_key(character_id),
        value=command,
    )
    return rest.accepted()


def _party(request: rest.Request, party_id: int, *, missing: rest.HttpError) -> Party:
    return rest.found(selectors.party_get(tenant=request.tenant, party_id=party_id), missing)


def _member_ids(body: rest.Body, *, exactly: int) -> list[int]:
    """The ids of the to-many ``members`` relationship; any other shape is a 400."""
    members = rest.go_field(body.relationships, "members")
    data = rest.go_field(members, "data")
    if not isinstance(data, list) or len(data) != exactly:
        raise rest.BadRequest()
    ids = []
    for item in data:
        member_id = rest.go_field(item, "id")
        if not isinstance(member_id, str):
            raise rest.BadRequest()
        ids.append(rest.parse_int_truncated_u32(member_id))
    return ids
