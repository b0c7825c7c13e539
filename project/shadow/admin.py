"""Admin: the comparison's results with both records side by side, filterable."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from project.admin import ReadOnlyAdmin
from project.shadow.models import IdPair, Result, ShadowService, UpstreamMessage
from project.shadow.rules import key_text


def _pretty(raw: bytes | memoryview | None) -> str:
    text = bytes(raw or b"").decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ("id", "decided_at", "service", "topic", "message_type", "klass", "rule")
    list_filter = ("klass", "service", "topic", "message_type", "rule", "decided_at")
    search_fields = ("tenant", "rule", "message_type")
    date_hierarchy = "decided_at"
    list_select_related = ("ours", "theirs")
    readonly_fields = ("service", "topic", "message_type", "klass", "rule", "tenant",
                       "decided_at", "differences", "side_by_side")  # fmt: skip
    exclude = ("diff", "ours", "theirs")

    @admin.display(description="differences (after id mapping)")
    def differences(self, obj: Result) -> str:
        if not obj.diff:
            return "—"
        return format_html(
            "<table><tr><th>field</th><th>ours</th><th>upstream</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                ((d["path"], json.dumps(d["ours"]), json.dumps(d["upstream"])) for d in obj.diff),
            ),
        )

    @admin.display(description="ours | upstream")
    def side_by_side(self, obj: Result) -> str:
        ours = obj.ours
        theirs = obj.theirs
        left = (
            f"outbox #{ours.id}, key {key_text(ours.key)}, {ours.created_at:%H:%M:%S.%f}\n"
            + _pretty(ours.value)
            if ours
            else "(none)"
        )
        right = (
            f"{theirs} key {key_text(theirs.key)}, {theirs.timestamp:%H:%M:%S.%f}\n"
            + _pretty(theirs.value)
            if theirs
            else "(none)"
        )
        return format_html(
            '<table><tr><td style="vertical-align:top"><pre>{}</pre></td>'
            '<td style="vertical-align:top"><pre>{}</pre></td></tr></table>',
            left,
            right,
        )


@admin.register(ShadowService)
class ShadowServiceAdmin(ReadOnlyAdmin):
    list_display = ("app", "state", "started_at", "switched_at", "upstream_group", "group")


@admin.register(UpstreamMessage)
class UpstreamMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "service", "topic", "partition", "offset", "message_type", "paired")
    list_filter = ("service", "topic", "message_type", "paired")
    exclude = ("key", "value")
    readonly_fields = ("value_text",)

    @admin.display(description="value")
    def value_text(self, obj: UpstreamMessage) -> str:
        return format_html("<pre>{}</pre>", _pretty(obj.value))


@admin.display(description="tenant", ordering="tenant")
def tenant_id_short(obj: IdPair) -> str:
    """The tenant id's first eight hex digits, the whole id on hover (as
    ``project.admin.tenant_column`` shows a tenant row)."""
    return format_html('<span title="{}">{}</span>', obj.tenant, obj.tenant[:8])


@admin.register(IdPair)
class IdPairAdmin(ReadOnlyAdmin):
    list_display = ("service", tenant_id_short, "kind", "ours", "theirs", "learnt_at")
    list_filter = ("service", "kind")
    search_fields = ("ours", "theirs", "tenant")
