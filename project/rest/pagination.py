"""Pagination as ``libs/atlas-rest/server/paginate`` does it.

Never clamps: a non-integer, ``page[number] < 1``, ``page[size]`` outside
1..max, or any ``limit`` parameter is a 400 with the library's error body. Links
keep the request's other parameters, sorted and form-encoded with ``%5B``/``%5D``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from project.rest.documents import Resource, document, error
from project.tenancy.keys import parse_go_atoi

DETAIL = "invalid page[number]/page[size]"


class BadPage(Exception):
    """Invalid paging parameters."""


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @classmethod
    def from_request(cls, request: HttpRequest, *, default_size: int, max_size: int) -> Page:
        if "limit" in request.GET:
            raise BadPage("limit is not supported")
        size = _integer(_get(request, "page[size]"), default_size)
        number = _integer(_get(request, "page[number]"), 1)
        if number < 1 or not 1 <= size <= max_size:
            raise BadPage(f"page {number} of size {size}")
        return cls(number, size)


def _get(request: HttpRequest, name: str) -> str | None:
    """Go's ``url.Values.Get``: the first value of a repeated parameter (Django's
    ``QueryDict.get`` takes the last)."""
    values = request.GET.getlist(name)
    return values[0] if values else None


def _integer(text: str | None, default: int) -> int:
    """``strconv.Atoi``: within int64, else a 400 like any non-integer."""
    if text is None or text == "":
        return default
    try:
        return parse_go_atoi(text)
    except ValueError:
        raise BadPage(f"not an integer: {text[:40]!r}") from None


def bad_page() -> HttpResponse:
    return error(400, "Bad Request", DETAIL)


def collection(
    request: HttpRequest,
    items: QuerySet | Sequence[Any],
    to_resource: Callable[[Any], Resource],
    *,
    default_size: int = 50,
    max_size: int = 250,
) -> HttpResponse:
    """A paginated list document; ``items`` must already be in their unique sort order.

    A queryset is counted and sliced in the database (LIMIT/OFFSET), so only one
    page of rows is read.
    """
    try:
        page = Page.from_request(request, default_size=default_size, max_size=max_size)
    except BadPage:
        return bad_page()
    total = items.count() if isinstance(items, QuerySet) else len(items)
    last = max(1, math.ceil(total / page.size))
    rows = list(items[page.offset : page.offset + page.size]) if page.number <= last else []
    return document(
        request,
        [to_resource(row) for row in rows],
        links=_links(request, page, last),
        meta={"page": {"last": last, "number": page.number, "size": page.size}, "total": total},
    )


def _links(request: HttpRequest, page: Page, last: int) -> dict[str, str]:
    numbers = {"first": 1, "last": last, "self": page.number}
    if page.number > 1:
        numbers["prev"] = min(page.number - 1, last)
    if page.number < last:
        numbers["next"] = page.number + 1
    return {name: _href(request, number, page.size) for name, number in sorted(numbers.items())}


def _href(request: HttpRequest, number: int, size: int) -> str:
    """Go's ``url.Values.Encode``: keys sorted, each value escaped like ``QueryEscape``."""
    params: dict[str, list[str]] = {k: request.GET.getlist(k) for k in request.GET}
    params["page[number]"] = [str(number)]
    params["page[size]"] = [str(size)]
    query = "&".join(
        f"{quote_plus(key)}={quote_plus(value)}" for key in sorted(params) for value in params[key]
    )
    return f"{request.path}?{query}"
