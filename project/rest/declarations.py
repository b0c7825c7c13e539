"""What a route's views take and answer, declared beside the route (``urls.py``).

``route("parties", GET=op(views.parties_list, returns=many(PARTIES)))`` keeps the
view as it is and tells ``project.rest.openapi`` what the view reads (request
document, query parameters, path ids) and what it answers, so the OpenAPI
document is generated from the routing table rather than written beside it. The
live server is checked against that document (tests/platform/test_openapi.py),
so a declaration that no longer matches its view fails a test.

Attributes are ``GoSchema`` classes, the same that decode request bodies; a
resource's attribute schema lists the attributes in the order they are rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse

from project.messaging.schemas import GoSchema

View = Callable[..., HttpResponse]


@dataclass(frozen=True)
class ResourceType:
    """A JSON:API resource as rendered: its type, id, attributes and to-many relationships
    (whose resources are rendered in ``included``)."""

    type: str
    attributes: type[GoSchema]
    relationships: dict[str, ResourceType] = field(default_factory=dict)
    id_format: str | None = None  # "uuid" for uuid ids; else a decimal string


@dataclass(frozen=True)
class RequestDocument:
    """A request body read by ``read_body(request, type, attributes, integer_id=…)``."""

    type: str
    attributes: type[GoSchema]
    integer_id: bool = True
    id_description: str = ""
    relationships: tuple[str, ...] = ()  # to-many relationships read from the body


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Returns:
    """A success answer: one resource, a page of them, or no body."""

    status: int
    resource: ResourceType | None = None
    many: bool = False
    page_size: int = 50
    max_page_size: int = 250


def one(resource: ResourceType, *, status: int = 200) -> Returns:
    return Returns(status, resource)


def many(resource: ResourceType, *, page_size: int = 50, max_page_size: int = 250) -> Returns:
    """A paginated collection (``page[number]``, ``page[size]``, ``links``, ``meta``)."""
    return Returns(200, resource, many=True, page_size=page_size, max_page_size=max_page_size)


def no_body(status: int) -> Returns:
    """202 for a buffered command, 204 for a change made in the request."""
    return Returns(status)


@dataclass(frozen=True)
class Operation:
    """One method of a route: the view and what it is declared to take and answer.

    ``errors`` are the statuses the view itself answers besides the success (each
    with when); the routing's own answers (400 for tenant headers, 503 when the
    database is down, 400 for a bad page or body) are added by the generator.
    """

    view: View
    returns: Returns
    body: RequestDocument | None = None
    query: tuple[Query, ...] = ()
    errors: dict[int, str] = field(default_factory=dict)
    summary: str = ""

    def __call__(self, request: Any, **parts: str) -> HttpResponse:
        return self.view(request, **parts)


def op(
    view: View,
    *,
    returns: Returns,
    body: RequestDocument | None = None,
    query: tuple[Query, ...] | list[Query] = (),
    errors: dict[int, str] | None = None,
    summary: str = "",
) -> Operation:
    return Operation(view, returns, body, tuple(query), dict(errors or {}), summary)


# Upstream's answer to a missing resource on several reads is a 500 with an empty body
# (kept, docs/compatibility.md); declared where a view does it.
UPSTREAM_500 = "the resource does not exist (upstream answers a 500, kept)"
