"""Admin building blocks every app uses.

State changes only through commands, beat and the services an admin action calls,
never by editing a row in a form: a form edit would bypass the events other Atlas
services wait for. So state admins derive from ``ReadOnlyAdmin``.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lists and detail pages, no add, change or delete; actions may still call services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.display(description="tenant", ordering="tenant")
def tenant_column(obj: models.Model) -> str:
    """A row's tenant in a change list, short: region, version and the id's first eight
    hex digits (``GMS 83.1 · 083839c6``); the whole key in the cell's title (hover) and
    on the detail page. The whole key took a third of a 1400 px wide list."""
    tenant = obj.tenant
    if tenant is None:
        return "—"
    return format_html(
        '<span title="{}">{} {}.{} · {}</span>',
        str(tenant),
        tenant.region,
        tenant.major_version,
        tenant.minor_version,
        str(tenant.uuid)[:8],
    )


def with_full_tenant(fields: tuple) -> tuple:
    """``fields`` for a detail page: the short tenant column as the whole tenant."""
    return tuple("tenant" if field is tenant_column else field for field in fields)


def truncated(text: str, limit: int = 80) -> str:
    """Long text (a reason, an error) in a change list: its first line, cut at ``limit``
    characters with an ellipsis, the first line whole in the cell's title; the detail
    page has it all. A long reason wrapped to a word per line otherwise."""
    lines = text.strip().splitlines()
    first = lines[0].rstrip() if lines else ""
    if len(first) <= limit and len(lines) <= 1:
        return first
    return format_html('<span title="{}">{}…</span>', first, first[:limit].rstrip())


def set_filter(
    field: str, title: str, choices: list[tuple[str, str]]
) -> type[admin.SimpleListFilter]:
    """A list filter on whether a time field is set: ``choices`` names, in the order
    shown, ``"yes"`` (set: sent, parked, read) and ``"no"`` (still empty)."""

    class SetFilter(admin.SimpleListFilter):
        parameter_name = title

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
            return list(choices)

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            if self.value() in ("yes", "no"):
                return queryset.filter(**{f"{field}__isnull": self.value() == "no"})
            return queryset

    SetFilter.title = title
    SetFilter.__name__ = SetFilter.__qualname__ = f"{title.capitalize()}Filter"
    return SetFilter
