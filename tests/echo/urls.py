"""Test-only REST routes exercising the REST package: a resource with relationships,
and a body that becomes a Kafka command through the outbox."""

from django.http import HttpResponse

from project import rest
from project.messaging import wire
from project.messaging.schemas import U32, GoSchema, Str
from tests.echo.handlers import COMMAND_TOPIC_ECHO


class PingAttributes(GoSchema):
    name = Str()
    level = U32()


def member(character_id: int) -> rest.Resource:
    return rest.Resource("members", str(character_id), {"name": f"c{character_id}", "level": 1})


def group(request, groupId: str) -> HttpResponse:
    group_id = rest.parse_u32(groupId)
    if group_id == 404:
        raise rest.NotFound()
    members = [member(7), member(8)]
    resource = rest.Resource("groups", str(group_id), {"leaderId": 7}, {"members": members})
    return rest.single(request, resource)


def groups(request) -> HttpResponse:
    items = [
        rest.Resource("groups", str(i), {"leaderId": i}, {"members": [member(i), member(7)]})
        for i in (1, 2)
    ]
    return rest.collection(request, items, lambda r: r)


def ping(request) -> HttpResponse:
    body = rest.read_body(request, "pings", PingAttributes)
    rest.emit_command(
        request,
        topic=COMMAND_TOPIC_ECHO,
        key=wire.key_u32(int(body.id)),
        value={"type": "PING", "body": {"id": int(body.id), "seq": body.attributes["level"]}},
    )
    return rest.accepted()


def fails(request) -> HttpResponse:
    raise RuntimeError("a defect")


MEMBERS = rest.ResourceType("members", PingAttributes)


class GroupAttributes(GoSchema):
    leaderId = U32()


GROUPS = rest.ResourceType("groups", GroupAttributes, {"members": MEMBERS})

urlpatterns = rest.routes(
    rest.route("echo/groups", GET=rest.op(groups, returns=rest.many(GROUPS))),
    rest.route(
        "echo/groups/{groupId}",
        GET=rest.op(group, returns=rest.one(GROUPS), errors={404: "group 404"}),
    ),
    rest.route(
        "echo/pings",
        POST=rest.op(
            ping, body=rest.RequestDocument("pings", PingAttributes), returns=rest.no_body(202)
        ),
    ),
    rest.route("echo/fails", GET=rest.op(fails, returns=rest.no_body(204))),
)
