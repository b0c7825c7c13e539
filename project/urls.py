"""URL routes: the admin, and every service's REST API under /api/ (spec/platform.md §3)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("invites.urls")),
    path("api/", include("parties.urls")),
    path("api/", include("messengers.urls")),
    path("api/", include("notes.urls")),
    path("api/", include("transport.urls")),
]
