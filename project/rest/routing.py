"""Routes as upstream's router serves them.

``route("parties/{partyId}/members", GET=..., POST=...)`` gives two URL patterns:
the path itself, and its trailing-slash variant that answers 301 to it (strict
slash). A method not listed is a 405. Before the view runs, the tenant headers
are parsed (400, empty body, when they are missing or bad) and the request gets
``tenant_key``, ``tenant`` (its row) and ``cause`` (environment and trace for the
records it causes). Every response of a matched route is ``application/json``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import db
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import URLPattern, path
from django.utils.functional import SimpleLazyObject
from django.views.decorators.csrf import csrf_exempt

from project import tenancy
from project.messaging import bus, wire
from project.messaging.errors import DomainError
from project.rest import declarations
from project.rest.declarations import Operation
from project.rest.documents import error
from project.rest.errors import HttpError
from project.rest.pagination import BadPage, bad_page
from project.rest.responses import JSON
from project.tenancy.rows import existing_tenant_row, tenant_row

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]
Request = HttpRequest  # with .tenant, .tenant_key and .cause set by the route

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class ApiRoute:
    """What ``route`` declared, kept on its view for ``project.rest.openapi``."""

    pattern: str
    tenant: bool
    methods: dict[str, View | Operation]
    ids: dict[str, str]

    def view(self, method: str) -> View | None:
        """The view function that answers ``method`` (whose app: ``project.shadow.web``)."""
        target = self.methods.get(method)
        return target.view if isinstance(target, Operation) else target


def route(
    pattern: str,
    *,
    tenant: bool = True,
    ids: dict[str, str] | None = None,
    **views: View | Operation,
) -> list[URLPattern]:
    """The URL patterns of one path; ``views`` maps HTTP methods to view functions,
    or to ``op(view, …)`` declarations of what they take and answer (the OpenAPI
    document's source). ``ids`` names the path ids that are not integers
    (``{"routeId": "uuid"}``)."""
    methods = {method.upper(): view for method, view in views.items()}
    django_pattern = _PLACEHOLDER.sub(r"<str:\1>", pattern)
    name = pattern.replace("/", "-").replace("{", "").replace("}", "")

    @csrf_exempt
    def dispatch(request: HttpRequest, **parts: str) -> HttpResponse:
        view = methods.get(request.method or "")
        if view is None:
            # Upstream's router answers 405 with an empty body; typed as JSON like
            # every other answer of a matched route.
            response = HttpResponse(b"", status=405, content_type=JSON)
            response["Allow"] = ", ".join(methods)
            return response
        return _respond(request, view, parts, tenant=tenant)

    @csrf_exempt
    def redirect(request: HttpRequest, **parts: str) -> HttpResponse:
        target = request.path.rstrip("/")
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)

    dispatch.api_route = ApiRoute(pattern, tenant, methods, dict(ids or {}))  # type: ignore[attr-defined]
    redirect.api_redirect = True  # type: ignore[attr-defined]
    return [
        path(django_pattern, dispatch, name=name),
        path(django_pattern + "/", redirect),
    ]


def routes(*groups: list[URLPattern]) -> list[URLPattern]:
    return [pattern for group in groups for pattern in group]


def get_route(
    pattern: str, view: View, *, ids: dict[str, str] | None = None, **declared: Any
) -> list[URLPattern]:
    """A path that only answers GET, declared as ``op(view, **declared)``: most
    routes are one read."""
    return route(pattern, ids=ids, GET=declarations.op(view, **declared))


def member_routes(
    owner: str,
    noun: str,
    member: declarations.ResourceType,
    *,
    page_size: int,
    list_view: View,
    join_view: View,
    get_view: View,
    leave_view: View,
) -> list[URLPattern]:
    """The members of a group resource at ``owner`` (``parties/{partyId}``), as
    upstream serves those of a party and of a messenger alike: the list (a
    game-capped one: ``page_size`` is also the largest page; also under
    ``relationships/``, as api2go links it), a POST of a ``member`` resource that is
    its JOIN, one member, and a DELETE that is its LEAVE. A missing group is
    upstream's 500."""
    listed = declarations.op(
        list_view,
        summary=f"The {noun}'s members by character id",
        returns=declarations.many(member, page_size=page_size, max_page_size=page_size),
        errors={500: declarations.UPSTREAM_500},
    )
    return routes(
        route(
            f"{owner}/members",
            GET=listed,
            POST=declarations.op(
                join_view,
                summary="JOIN command of the member (data.id: the character id)",
                body=declarations.RequestDocument(member.type, member.attributes),
                returns=declarations.no_body(202),
            ),
        ),
        route(f"{owner}/relationships/members", GET=listed),
        route(
            f"{owner}/members/{{memberId}}",
            GET=declarations.op(
                get_view,
                summary=f"One member of the {noun}",
                returns=declarations.one(member),
                errors={404: "not a member", 500: declarations.UPSTREAM_500},
            ),
            DELETE=declarations.op(
                leave_view, summary="LEAVE command of the member", returns=declarations.no_body(202)
            ),
        ),
    )


def _respond(request: HttpRequest, view: View, parts: dict[str, str], *, tenant: bool):
    try:
        if tenant:
            _attach_tenant(request)
        response = view(request, **parts)
    except HttpError as exc:
        response = HttpResponse(exc.body, status=exc.status, content_type=JSON)
        for name, value in exc.headers.items():
            response[name] = value
    except BadPage:
        response = bad_page()
    except RequestDataTooBig:
        response = error(413, "request body too large")
    except SuspiciousOperation as exc:  # too many query parameters, …
        logger.info("REST %s %s refused: %s", request.method, request.path, exc)
        response = HttpResponse(b"", status=400, content_type=JSON)
    except DomainError as refused:  # the domain's answer: its status, an empty body
        logger.info("REST %s %s refused: %s", request.method, request.path, refused.reason)
        response = HttpResponse(b"", status=refused.status, content_type=JSON)
    except bus.RecordTooLarge as exc:  # nothing was stored: its transaction rolled back
        logger.info("REST %s %s refused: %s", request.method, request.path, exc)
        response = HttpResponse(b"", status=400, content_type=JSON)
    except (db.OperationalError, db.InterfaceError):
        logger.exception("REST %s %s: database unavailable", request.method, request.path)
        response = error(503, "temporarily unavailable")
        response["Retry-After"] = "1"
    except Exception:
        logger.exception("REST %s %s failed", request.method, request.path)
        response = error(500, "internal server error")
    if not response.has_header("Content-Type") or response["Content-Type"] != JSON:
        response["Content-Type"] = JSON
    return response


def _attach_tenant(request: HttpRequest) -> None:
    try:
        key = tenancy.from_http_headers(request.headers)
    except tenancy.InvalidTenant:
        raise HttpError(400) from None
    request.tenant_key = key
    # The row only when a view needs it: a rejected request (a bad id, body or page)
    # stores no tenant, and a read finds the row or, for a tenant never seen, one
    # that matches nothing (``existing_tenant_row``), so reads create nothing.
    if request.method in ("GET", "HEAD", "OPTIONS"):
        request.tenant = SimpleLazyObject(lambda: existing_tenant_row(key))
    else:
        request.tenant = SimpleLazyObject(lambda: tenant_row(key))
    environment = request.headers.get("Environment", "")
    trace = wire.TraceParent.parse(request.headers.get("Traceparent"))
    request.cause = bus.Cause(environment, trace or wire.TraceParent.root())
