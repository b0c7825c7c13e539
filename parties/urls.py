"""REST routes of parties, mounted under /api/ (spec/parties.md, REST section)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
