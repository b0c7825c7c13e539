"""``/api/readyz``, ``/api/metrics`` and ``/api/debug/consumers`` (spec/platform.md §3.1)."""

from django.urls import path

from project.observability import views

urlpatterns = [
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("debug/consumers", views.consumers, name="debug-consumers"),
]
