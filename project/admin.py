"""Admin building blocks every app uses.

State changes only through commands, beat and the services an admin action calls,
never by editing a row in a form: a form edit would bypass the events other Atlas
services wait for. So state admins derive from ``ReadOnlyAdmin``.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages, no add, change or delete; actions may still call services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
