"""REST of a shadowed service: reads are served, requests that change state refused.

In shadow mode the Go service owns the state players see; a write here would make
ours diverge from it (and its event would be held, never published). So every
method but GET, HEAD and OPTIONS on a shadowed service's routes is answered 503
with the JSON:API error body and ``Retry-After``; after the switch they are served
(docs/compatibility.md, "Shadow mode").
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from project.rest.documents import error
from project.shadow import modes

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class ShadowWriteGuard:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable, args, kwargs):
        if not settings.ATLAS_SHADOW or request.method in SAFE:
            return None
        route = getattr(view, "api_route", None)
        target = route.view(request.method) if route is not None else None
        app = getattr(target, "__module__", "").split(".", 1)[0]
        if app in settings.ATLAS_SHADOW and modes.is_shadow_cached(app):
            response = error(
                503,
                "service in shadow mode",
                f"{app} runs in shadow mode beside the Go service; it changes no state "
                "until it is switched live",
            )
            response["Retry-After"] = "60"
            return response
        return None
