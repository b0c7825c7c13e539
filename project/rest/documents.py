"""JSON:API documents in api2go's shape.

Resource object keys come in the order ``type``, ``id`` (a string), ``attributes``,
``relationships``; document keys in the order ``links``, ``data``, ``included``,
``meta``, each left out when empty except ``data``. Bodies are serialised with
``wire.dumps``, so ``&`` in a link is ``\\u0026`` as Go writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse

from project.messaging import wire
from project.rest.errors import HttpError

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource object; ``relationships`` are to-many, their resources go to ``included``."""

    type: str
    id: str
    attributes: dict[str, Any]
    relationships: dict[str, list[Resource]] = field(default_factory=dict)


class Fieldsets:
    """``fields[<type>]=a,b``: keep only the named attributes of resources of that type.

    An unknown name is an error, detected (as api2go does) only when a resource of
    that type is rendered. Upstream sends that error with status 200; here it is a
    400 with the same bare error object (docs/compatibility.md).
    """

    def __init__(self, request: HttpRequest) -> None:
        self.wanted: dict[str, list[str]] = {}
        for key, value in request.GET.items():
            if key.startswith("fields[") and key.endswith("]"):
                self.wanted[key[7:-1]] = value.split(",")

    def apply(self, resource: Resource) -> dict[str, Any]:
        names = self.wanted.get(resource.type)
        if names is None:
            return resource.attributes
        for name in names:
            if name not in resource.attributes:
                raise HttpError(400, _invalid_field(name, resource.type), {})
        return {k: v for k, v in resource.attributes.items() if k in names}


def _invalid_field(name: str, type_: str) -> bytes:
    return wire.dumps(
        {
            "status": "Bad Request",
            "code": "API2GO_INVALID_FIELD_QUERY_PARAM",
            "title": f'Field "{name}" does not exist for type "{type_}"',
            "detail": "Please make sure you do only request existing fields",
            "source": {"parameter": f"fields[{type_}]"},
        }
    )


def resource_object(resource: Resource, fieldsets: Fieldsets) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": resource.type,
        "id": resource.id,
        "attributes": fieldsets.apply(resource),
    }
    if resource.relationships:
        base = f"/api/{resource.type}/{resource.id}"
        obj["relationships"] = {
            name: {
                "links": {
                    "related": f"{base}/{name}",
                    "self": f"{base}/relationships/{name}",
                },
                "data": [{"type": r.type, "id": r.id} for r in related],
            }
            for name, related in resource.relationships.items()
        }
    return obj


def _included(resources: Iterable[Resource], fieldsets: Fieldsets) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    included = []
    for resource in resources:
        for related in resource.relationships.values():
            for item in related:
                if (item.type, item.id) not in seen:
                    seen.add((item.type, item.id))
                    included.append(resource_object(item, fieldsets))
    return included


def document(
    request: HttpRequest,
    data: Resource | list[Resource],
    *,
    links: dict[str, str] | None = None,
    meta: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    fieldsets = Fieldsets(request)
    many = isinstance(data, list)
    resources = data if many else [data]
    body: dict[str, Any] = {}
    if links:
        body["links"] = links
    rendered = [resource_object(r, fieldsets) for r in resources]
    body["data"] = rendered if many else rendered[0]
    included = _included(resources, fieldsets)
    if included:
        body["included"] = included
    if meta:
        body["meta"] = meta
    return HttpResponse(wire.dumps(body), status=status, content_type=JSON)


def single(request: HttpRequest, resource: Resource, *, status: int = 200) -> HttpResponse:
    """A document whose ``data`` is one resource object."""
    return document(request, resource, status=status)


def error(status: int, title: str, detail: str = "") -> HttpResponse:
    """The JSON:API error body of upstream's library."""
    item: dict[str, str] = {"status": str(status), "title": title}
    if detail:
        item["detail"] = detail
    return HttpResponse(wire.dumps({"errors": [item]}), status=status, content_type=JSON)
