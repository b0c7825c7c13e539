"""REST exactly as upstream serves it (spec/platform.md §3), shared by every app.

An app's ``urls.py`` lists its routes with ``route``; its views parse input with
``parse_*`` and ``read_body``, call one selector or service, and render with
``single`` or ``collection``; a REST call that causes a Kafka command buffers it
with ``emit_command`` and answers ``accepted()``.

- ``documents``: JSON:API resource objects and documents (key order, string ids,
  relationships with links, ``included``, sparse fieldsets) and error bodies.
- ``pagination``: ``page[number]``/``page[size]``, ``meta``, ``links``.
- ``routing``: routes with strict-slash redirects, tenant headers, 405, error mapping.
- ``inputs``: path ids and request bodies with upstream's rules.
"""

from project.rest.documents import Resource, error, single
from project.rest.errors import BadRequest, HttpError, NotFound
from project.rest.inputs import (
    Body,
    parse_int_truncated_u32,
    parse_u32,
    query_value,
    read_body,
)
from project.rest.pagination import BadPage, Page, collection
from project.rest.responses import accepted, emit_command, empty, no_content
from project.rest.routing import Request, route, routes

__all__ = [
    "BadPage",
    "BadRequest",
    "Body",
    "HttpError",
    "NotFound",
    "Page",
    "Request",
    "Resource",
    "accepted",
    "collection",
    "emit_command",
    "empty",
    "error",
    "no_content",
    "parse_int_truncated_u32",
    "parse_u32",
    "query_value",
    "read_body",
    "route",
    "routes",
    "single",
]
