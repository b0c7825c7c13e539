"""REST routes of notes, mounted under /api/ (spec/notes.md, REST section)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
