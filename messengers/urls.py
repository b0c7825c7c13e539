"""REST routes of messengers, mounted under /api/ (spec/messengers.md, REST section)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
