"""``/api/readyz``, ``/api/metrics`` and ``/api/debug/consumers`` (spec/platform.md §3.1).

No tenant headers. As every route of upstream's router (strict slash), the
trailing-slash variant answers 301 to the path without it.
"""

from django.http import HttpResponsePermanentRedirect
from django.urls import path

from project.observability import views


def _without_slash(request):
    query = request.META.get("QUERY_STRING", "")
    target = request.path.rstrip("/")
    return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)


_ROUTES = {
    "readyz": views.readyz,
    "metrics": views.metrics_view,
    "debug/consumers": views.consumers,
}

urlpatterns = [
    pattern
    for route, view in _ROUTES.items()
    for pattern in (path(route, view), path(route + "/", _without_slash))
]
