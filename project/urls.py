"""URL routes: the admin for now; the services' REST APIs mount under /api/."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
