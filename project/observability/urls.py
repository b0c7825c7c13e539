"""``/api/readyz``, ``/api/metrics`` and ``/api/debug/consumers``.

No tenant headers. As every route of upstream's router (strict slash), the
trailing-slash variant answers 301 to the path without it.
"""

from django.http import HttpResponsePermanentRedirect
from django.urls import path

from project.observability import views
from project.rest import openapi


def _without_slash(request):
    query = request.META.get("QUERY_STRING", "")
    target = request.path.rstrip("/")
    return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)


_without_slash.api_redirect = True  # the strict-slash variant: not in the OpenAPI document


def _get(path: str, view, summary: str, responses: dict) -> tuple[str, object]:
    """The route and its view, described for the OpenAPI document (project.rest.openapi)."""
    operation = {
        "operationId": f"observability.{view.__name__}.get",
        "summary": summary,
        "tags": ["observability"],
        "responses": responses,
    }
    return path, openapi.describe(view, f"/api/{path}", get=operation)


_ROUTES = dict(
    [
        _get(
            "readyz",
            views.readyz,
            "Whether the database, Redis and Kafka answer",
            {
                "200": openapi.text_answer("ready"),
                "503": openapi.text_answer("not ready (the failing parts are logged)"),
            },
        ),
        _get(
            "metrics",
            views.metrics_view,
            "Prometheus metrics of this machine's processes",
            {"200": openapi.text_answer("Prometheus text exposition")},
        ),
        _get(
            "debug/consumers",
            views.consumers,
            "Per consumer group: apps, topics, members, partitions, offsets, lag",
            {
                "200": {
                    "description": "per consumer group",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        ),
    ]
)

urlpatterns = [
    pattern
    for route, view in _ROUTES.items()
    for pattern in (path(route, view), path(route + "/", _without_slash))
]
