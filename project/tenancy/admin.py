"""Tenants appear when their first record or request arrives."""

from __future__ import annotations

from django.contrib import admin

from project.admin import ReadOnlyAdmin
from project.tenancy.models import Tenant


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    """Tenants appear when their first record arrives; processes cache their row ids,
    so they are never edited or deleted here."""

    list_display = ("uuid", "region", "major_version", "minor_version", "created_at")
    search_fields = ("uuid", "region")
    list_filter = ("region",)
