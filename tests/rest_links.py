"""Following the links of JSON:API documents: every link a document carries must answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any


def links_of(body: Any) -> Iterator[str]:
    """The hrefs of a document: its top-level ``links`` and every resource's (``data``
    and ``included``) relationship links."""
    if not isinstance(body, dict):
        return
    yield from (body.get("links") or {}).values()
    data = body.get("data")
    resources = [*(data if isinstance(data, list) else [data]), *body.get("included", [])]
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        for relationship in (resource.get("relationships") or {}).values():
            yield from (relationship.get("links") or {}).values()


def follow(get: Callable[[str], Any], *paths: str, limit: int = 200) -> dict[str, int]:
    """GET ``paths`` and every link their documents carry, and the links of those, …
    (each once, at most ``limit``); the status each answered, by path. ``get`` takes a
    path and returns a response with ``status_code`` and ``content``."""
    statuses: dict[str, int] = {}
    todo = list(paths)
    while todo and len(statuses) < limit:
        path = todo.pop(0)
        if path in statuses:
            continue
        response = get(path)
        statuses[path] = response.status_code
        if response.status_code == 200 and response.content:
            todo.extend(link for link in links_of(json.loads(response.content)) if link)
    assert not todo, f"more than {limit} links; raise the limit"
    return statuses
