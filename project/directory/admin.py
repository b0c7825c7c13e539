"""The local directory is meant to be edited: an operator adds or fixes characters here."""

from __future__ import annotations

from django.contrib import admin

from project.admin import tenant_column
from project.directory.models import Character, Portal


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = (
        "character_id",
        "name",
        tenant_column,
        "world_id",
        "level",
        "job_id",
        "gm",
        "online",
        "channel_id",
        "map_id",
        "updated_at",
    )
    list_filter = ("tenant", "online", "world_id")
    search_fields = ("=character_id", "name")
    list_select_related = ("tenant",)
    readonly_fields = ("updated_at",)


@admin.register(Portal)
class PortalAdmin(admin.ModelAdmin):
    list_display = ("map_id", "portal_id", "name", "type", "target_map_id", tenant_column)
    list_filter = ("tenant",)
    search_fields = ("=map_id",)
    list_select_related = ("tenant",)
