"""URL routes: the admin, and every service's REST API under /api/ (spec/platform.md §3)."""

import importlib.util

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.defaults import page_not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    # Readiness, metrics and consumer diagnostics: no tenant headers.
    path("api/", include("project.observability.urls")),
    path("api/", include("invites.urls")),
    path("api/", include("parties.urls")),
    path("api/", include("messengers.urls")),
    path("api/", include("notes.urls")),
    path("api/", include("transport.urls")),
]

# Extra apps (ATLAS_EXTRA_APPS, e.g. the tests' echo app) may bring REST routes too.
for _app in settings.EXTRA_APPS:
    if importlib.util.find_spec(f"{_app}.urls") is not None:
        urlpatterns.append(path("api/", include(f"{_app}.urls")))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unmatched API paths get the body of Go's router; the admin keeps Django's page."""
    if request.path.startswith("/api/"):
        return HttpResponse(
            b"404 page not found\n", status=404, content_type="text/plain; charset=utf-8"
        )
    return page_not_found(request, exception)
