"""REST routes of invites, mounted under /api/ (spec/invites.md, REST section)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
