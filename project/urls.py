"""URL routes: the admin, and the REST API of every service that runs, under /api/."""

import importlib.util

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLResolver, include, path
from django.views.defaults import page_not_found


def api_urlpatterns(services: list[str], extra_apps: list[str]) -> list[URLResolver]:
    """The routes under /api/ of a deployment running ``services`` (and ``extra_apps``);
    ``manage.py openapi`` documents those of every service with it."""
    patterns = [
        # Readiness, metrics and consumer diagnostics: no tenant headers.
        path("api/", include("project.observability.urls")),
        # The OpenAPI document of these routes, and a page rendering it.
        path("api/", include("project.rest.urls")),
        # The services this deployment runs (ATLAS_SERVICES); another service's paths
        # answer 404 here, as they belong to the Go service still running beside it.
        *[path("api/", include(f"{app}.urls")) for app in services],
    ]
    # Extra apps (ATLAS_EXTRA_APPS, e.g. the tests' echo app) may bring REST routes too.
    for app in extra_apps:
        if importlib.util.find_spec(f"{app}.urls") is not None:
            patterns.append(path("api/", include(f"{app}.urls")))
    return patterns


urlpatterns = [
    path("admin/", admin.site.urls),
    *api_urlpatterns(settings.ATLAS_SERVICES, settings.EXTRA_APPS),
]


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unmatched API paths get the body of Go's router; the admin keeps Django's page."""
    if request.path.startswith("/api/"):
        return HttpResponse(
            b"404 page not found\n", status=404, content_type="text/plain; charset=utf-8"
        )
    return page_not_found(request, exception)
