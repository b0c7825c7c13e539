"""The OpenAPI 3.1 document of the REST API, generated from the URL conf.

Every route made by ``rest.route`` carries its declarations (``rest.op``: body,
query parameters, what it answers); other views (readiness, metrics, this
document itself) carry an OpenAPI operation of their own (``describe``). The
generator walks the URL patterns, so the document lists exactly the routes this
deployment serves (``ATLAS_SERVICES``), and a route without a declaration is a
failing test (tests/platform/test_openapi.py), not a gap in the document.

``docs/openapi.json`` is this document for a deployment running all five
services (``manage.py openapi``); ``/api/openapi.json`` is the running
deployment's, and ``/api/docs`` renders it with Swagger UI.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver

from project.messaging import jsonschema
from project.rest.declarations import Operation, RequestDocument, ResourceType, Returns
from project.rest.routing import ApiRoute

JSON = "application/json"
U32_MAX = 0xFFFFFFFF

DESCRIPTION = """\
The REST API of the invites, parties, messengers, notes and transport services, \
answering as upstream's Go services do.

- Tenant: every route but readiness, metrics, diagnostics and these documents needs \
the headers `TENANT_ID` (a UUID), `REGION`, `MAJOR_VERSION` and `MINOR_VERSION` \
(decimal), underscores kept; missing or invalid, the answer is a 400 with an empty body.
- Documents are JSON:API as upstream's library writes them: string ids, to-many \
relationships with `links` and their resources in `included`. `fields[<type>]=a,b` \
keeps only the named attributes of that type's resources (an unknown name is a 400).
- Collections are paginated with `page[number]` (from 1) and `page[size]`; \
out of range, or any `limit` parameter, is a 400 with an error document.
- Commands (202) are buffered and published on Kafka; their outcome arrives there \
(see asyncapi.yaml). `ENVIRONMENT` and `traceparent` headers are carried into them.
- Every answer of a route is typed `application/json`; most refusals have an empty \
body. A path with a trailing slash answers 301 to the path without it; a method \
not listed answers 405 with `Allow`. A body must arrive within 5 s (408) and be at \
most 1 MiB (413).
"""

TENANT_HEADERS = {
    "TENANT_ID": ({"type": "string", "format": "uuid"}, "the tenant (not the nil UUID)"),
    "REGION": ({"type": "string", "minLength": 1, "maxLength": 32}, "e.g. GMS"),
    "MAJOR_VERSION": ({"type": "integer", "minimum": 0, "maximum": 65535}, "decimal"),
    "MINOR_VERSION": ({"type": "integer", "minimum": 0, "maximum": 65535}, "decimal"),
}

_DJANGO_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


# --- views that are not ``rest.route``s describe themselves ---------------------------------


def describe(view: Callable, path: str, **operations: dict[str, Any]) -> Callable:
    """Attach OpenAPI operations (by lower-case method) to a plain Django view at
    ``path`` (as the document writes it, e.g. ``/api/readyz``)."""
    view.openapi = (path, operations)  # type: ignore[attr-defined]
    return view


def text_answer(description: str, media: str = "text/plain") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


# --- walking the URL conf ---------------------------------------------------------------


def walk(
    patterns: Iterable[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    """``(route, callback)`` of every URL pattern, the route as Django matches it
    (``api/parties/<str:partyId>``), includes flattened."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


def openapi_path(django_route: str) -> str:
    """``api/parties/<str:partyId>`` → ``/api/parties/{partyId}``."""
    return "/" + _DJANGO_PLACEHOLDER.sub(r"{\1}", django_route)


def build(patterns: Iterable[URLPattern | URLResolver]) -> dict[str, Any]:
    """The document of the routes in ``patterns`` (a URL conf's ``urlpatterns``)."""
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for route, callback in walk(patterns):
        declared: ApiRoute | None = getattr(callback, "api_route", None)
        if declared is not None:
            paths[openapi_path(route)] = _path_item(declared, components)
        elif hasattr(callback, "openapi"):
            path, operations = callback.openapi
            paths[path] = dict(operations)
        elif route.startswith("api/") and not getattr(callback, "api_redirect", False):
            raise ValueError(f"/{route}: no OpenAPI declaration (rest.op or openapi.describe)")
    return {
        "openapi": "3.1.0",
        "info": {"title": "atlas-social REST API", "version": "1.0", "description": DESCRIPTION},
        "paths": dict(sorted(paths.items())),
        "components": components.render(),
    }


def running_document() -> dict[str, Any]:
    """This deployment's document: the routes the URL conf serves."""
    return build(get_resolver().url_patterns)


# --- one route ----------------------------------------------------------------------------


class _Components:
    """Resource schemas, named once and referenced, in the order first met."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def resource(self, resource: ResourceType) -> dict[str, str]:
        name = _schema_name(resource)
        if name not in self.schemas:
            self.schemas[name] = {}  # reserve: a relationship may come back to it
            self.schemas[name] = self._resource_schema(resource)
        return {"$ref": f"#/components/schemas/{name}"}

    def _resource_schema(self, resource: ResourceType) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "type": {"const": resource.type},
            "id": _id_schema(resource.id_format),
            "attributes": jsonschema.schema_of(resource.attributes, writing=True),
        }
        required = ["type", "id", "attributes"]
        if resource.relationships:
            properties["relationships"] = {
                "type": "object",
                "properties": {
                    name: _relationship(related) for name, related in resource.relationships.items()
                },
                "required": list(resource.relationships),
                "additionalProperties": False,
            }
            required.append("relationships")
            for related in resource.relationships.values():
                self.resource(related)
        return {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    def render(self) -> dict[str, Any]:
        headers = {
            name: {
                "name": name,
                "in": "header",
                "required": True,
                "description": text,
                "schema": schema,
            }
            for name, (schema, text) in TENANT_HEADERS.items()
        }
        return {"schemas": self.schemas, "parameters": headers}


def _schema_name(resource: ResourceType) -> str:
    """``parties`` + ``members`` → ``PartiesMembersResource``: two services may render
    resources of one type with different attributes (members)."""
    app = resource.attributes.__module__.split(".")[0]
    words = re.split(r"[-_]", resource.type)
    if resource.type != app:
        words.insert(0, app)
    return "".join(word.capitalize() for word in words) + "Resource"


def _id_schema(id_format: str | None) -> dict[str, Any]:
    if id_format == "uuid":
        return {"type": "string", "format": "uuid"}
    return {"type": "string", "pattern": "^[0-9]+$"}


def _relationship(related: ResourceType) -> dict[str, Any]:
    link = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "links": {
                "type": "object",
                "properties": {"related": link, "self": link},
                "required": ["related", "self"],
                "additionalProperties": False,
            },
            "data": {"type": "array", "items": _linkage(related.type, related.id_format)},
        },
        "required": ["links", "data"],
        "additionalProperties": False,
    }


def _linkage(resource_type: str, id_format: str | None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"type": {"const": resource_type}, "id": _id_schema(id_format)},
        "required": ["type", "id"],
        "additionalProperties": False,
    }


def _path_item(route: ApiRoute, components: _Components) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for method, view in route.methods.items():
        if not isinstance(view, Operation):
            raise ValueError(f"{method} {route.pattern}: declare it with rest.op(view, returns=…)")
        item[method.lower()] = _operation(route, method, view, components)
    return item


def _operation(
    route: ApiRoute, method: str, operation: Operation, components: _Components
) -> dict[str, Any]:
    view = operation.view
    result: dict[str, Any] = {
        "operationId": method.lower()
        + "_"
        + re.sub(r"[^A-Za-z0-9]+", "_", route.pattern).strip("_"),
        "summary": operation.summary or view.__name__,
    }
    result["tags"] = [view.__module__.split(".")[0]]
    parameters = []
    for name in re.findall(r"\{(\w+)\}", route.pattern):
        parameters.append(_path_parameter(name, route.ids.get(name)))
    if route.tenant:
        parameters += [{"$ref": f"#/components/parameters/{name}"} for name in TENANT_HEADERS]
    returns = operation.returns
    if returns.many:
        parameters += _page_parameters(returns)
    parameters += [
        {"name": q.name, "in": "query", "description": q.description, "schema": q.schema}
        for q in operation.query
    ]
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": _request_document(operation.body)}},
        }
    result["responses"] = _responses(route, operation, components)
    return result


def _path_parameter(name: str, kind: str | None) -> dict[str, Any]:
    if kind == "uuid":
        schema = {"type": "string", "format": "uuid"}
        text = "a UUID (Go's uuid.Parse forms); anything else is a 400"
    else:
        schema = {"type": "integer", "minimum": 0, "maximum": U32_MAX}
        text = (
            "an id, read as Go's strconv.Atoi then cast to uint32 (-1 names 4294967295); "
            "not an integer is a 400"
        )
    return {"name": name, "in": "path", "required": True, "description": text, "schema": schema}


def _page_parameters(returns: Returns) -> list[dict[str, Any]]:
    return [
        {
            "name": "page[number]",
            "in": "query",
            "description": "the page, from 1; a page past the last has no data",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        {
            "name": "page[size]",
            "in": "query",
            "description": f"resources per page, at most {returns.max_page_size}",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": returns.max_page_size,
                "default": returns.page_size,
            },
        },
    ]


def _request_document(body: RequestDocument) -> dict[str, Any]:
    if body.integer_id:
        id_schema = {
            "type": "string",
            "pattern": "^[+-]?[0-9]+$",
            "description": body.id_description or 'a decimal id (Go clients send "0" on create)',
        }
    else:
        id_schema = {"type": "string", "description": body.id_description}
    data: dict[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": body.type},
            "id": id_schema,
            "attributes": jsonschema.schema_of(body.attributes, writing=False),
        },
        "required": ["type", "id"] if body.integer_id else ["type"],
    }
    if body.relationships:
        data["properties"]["relationships"] = {
            "type": "object",
            "properties": {
                name: {
                    "type": "object",
                    "properties": {
                        "data": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string"},
                                    "id": {"type": "string", "pattern": "^[+-]?[0-9]+$"},
                                },
                                "required": ["id"],
                            },
                        }
                    },
                    "required": ["data"],
                }
                for name in body.relationships
            },
            "required": list(body.relationships),
        }
        data["required"].append("relationships")
    return {
        "type": "object",
        "description": "a JSON:API document; members are matched case-insensitively, as Go does",
        "properties": {"data": data},
        "required": ["data"],
    }


def _responses(route: ApiRoute, operation: Operation, components: _Components) -> dict[str, Any]:
    returns = operation.returns
    responses: dict[str, Any] = {}
    if returns.resource is None:
        meaning = {202: "accepted: the command is buffered for Kafka", 204: "done"}
        responses[str(returns.status)] = {
            "description": meaning.get(returns.status, "no body") + " (empty body)"
        }
    else:
        schema = _response_document(returns, components)
        responses[str(returns.status)] = {
            "description": "a page of resources" if returns.many else "the resource",
            "content": {JSON: {"schema": schema}},
        }
    bad = []
    if route.tenant:
        bad.append("missing or invalid tenant headers")
    if "{" in route.pattern:
        bad.append("an invalid path id")
    if operation.body is not None:
        bad.append("a body that is not the resource document, or the command is refused")
    bad_body = "empty body"
    if returns.many:
        bad.append("an invalid page[number]/page[size] or a limit parameter")
        bad_body = "empty body; the paging error document for a bad page"
    if bad:
        responses["400"] = {"description": f"{'; '.join(bad)} ({bad_body})"}
    for status, when in sorted(operation.errors.items()):
        responses[str(status)] = {"description": when}
    if operation.body is not None:
        responses["413"] = {"description": "the body is larger than 1 MiB (an error document)"}
    responses["503"] = {
        "description": "the database is unavailable (an error document; Retry-After: 1)"
    }
    return dict(sorted(responses.items()))


def _response_document(returns: Returns, components: _Components) -> dict[str, Any]:
    assert returns.resource is not None
    resource = components.resource(returns.resource)
    properties: dict[str, Any] = {}
    required = ["data"]
    if returns.many:
        href = {"type": "string"}
        properties["links"] = {
            "type": "object",
            "properties": {name: href for name in ("first", "last", "next", "prev", "self")},
            "required": ["first", "last", "self"],
            "additionalProperties": False,
        }
        properties["data"] = {"type": "array", "items": resource}
        required = ["links", "data", "meta"]
    else:
        properties["data"] = resource
    included = _included_types(returns.resource)
    if included:
        properties["included"] = {
            "type": "array",
            "items": {"oneOf": [components.resource(r) for r in included]},
        }
    if returns.many:
        count = {"type": "integer", "minimum": 0}
        properties["meta"] = {
            "type": "object",
            "properties": {
                "page": {
                    "type": "object",
                    "properties": {"last": count, "number": count, "size": count},
                    "required": ["last", "number", "size"],
                    "additionalProperties": False,
                },
                "total": count,
            },
            "required": ["page", "total"],
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _included_types(resource: ResourceType) -> list[ResourceType]:
    found: dict[str, ResourceType] = {}
    for related in resource.relationships.values():
        found.setdefault(related.type, related)
        for nested in _included_types(related):
            found.setdefault(nested.type, nested)
    return list(found.values())


# --- serving it ---------------------------------------------------------------------------


@functools.cache
def _running_json() -> bytes:
    return dumps(running_document()).encode()


def dumps(document: dict[str, Any]) -> str:
    """The committed form: two-space indents, keys in generated order, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def openapi_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_running_json(), content_type=JSON)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>atlas-social REST API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui"});
</script>
</body>
</html>
"""

# Swagger UI's own files, as the swagger-ui-py wheel ships them (no network at run time).
ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}


def docs_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_PAGE.encode(), content_type="text/html; charset=utf-8")


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in ASSETS:
        raise Http404(name)
    response = FileResponse((_assets_dir() / name).open("rb"), content_type=ASSETS[name])
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _assets_dir() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"
