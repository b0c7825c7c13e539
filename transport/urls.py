"""REST routes of transport, mounted under /api/ (spec/transport.md, REST section)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
