"""REST exactly as upstream serves it, shared by every app.

An app's ``urls.py`` lists its routes with ``route`` (``get_route`` for a path that
only reads, ``member_routes`` for a group's members); its views parse input with
``parse_*`` and ``read_body``, call one selector or service, and render with
``single`` or ``collection``; a REST call that causes a Kafka command buffers it
with ``emit_command`` and answers ``accepted()``.

- ``documents``: JSON:API resource objects and documents (key order, string ids,
  relationships with links, ``included``, sparse fieldsets) and error bodies.
- ``pagination``: ``page[number]``/``page[size]``, ``meta``, ``links``.
- ``routing``: routes with strict-slash redirects, tenant headers, 405, error mapping.
- ``inputs``: path ids and request bodies with upstream's rules.
- ``declarations``: what a route's views take and answer (``op``, ``one``, ``many``),
  declared in ``urls.py``; ``openapi`` makes the OpenAPI document of them.
"""

from project.rest.declarations import (
    UPSTREAM_500,
    Operation,
    Query,
    RequestDocument,
    ResourceType,
    many,
    no_body,
    one,
    op,
)
from project.rest.documents import Resource, error, single
from project.rest.errors import BadRequest, HttpError, NotFound, found
from project.rest.inputs import (
    Body,
    go_field,
    parse_int_truncated_u32,
    parse_u32,
    query_id,
    query_value,
    read_body,
)
from project.rest.pagination import BadPage, Page, collection
from project.rest.responses import accepted, emit_command, empty, no_content
from project.rest.routing import Request, get_route, member_routes, route, routes

__all__ = [
    "UPSTREAM_500",
    "BadPage",
    "BadRequest",
    "Body",
    "HttpError",
    "NotFound",
    "Operation",
    "Page",
    "Query",
    "Request",
    "RequestDocument",
    "Resource",
    "ResourceType",
    "accepted",
    "collection",
    "emit_command",
    "empty",
    "error",
    "found",
    "get_route",
    "go_field",
    "many",
    "member_routes",
    "no_body",
    "no_content",
    "one",
    "op",
    "parse_int_truncated_u32",
    "parse_u32",
    "query_id",
    "query_value",
    "read_body",
    "route",
    "routes",
    "single",
]
