"""Admin for the inbox, dead letters (with replay) and the outbox."""

from __future__ import annotations

import base64

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from project.admin import ReadOnlyAdmin, set_filter, tenant_column, truncated
from project.messaging import inbox
from project.messaging.bus import wake_relay as bus_wake_relay
from project.messaging.models import (
    DeadLetter,
    InboxMessage,
    OutboxMessage,
    PartitionEpoch,
    Replay,
)


def _text(raw: bytes | memoryview | None) -> str:
    if raw is None:
        return ""
    return bytes(raw).decode("utf-8", errors="replace")


def _headers_table(stored: list[list[str]]) -> str:
    rows = []
    for name, value in stored:
        raw = base64.b64decode(value)
        try:
            shown = raw.decode("ascii") if raw.isascii() and raw.decode().isprintable() else None
        except UnicodeDecodeError:
            shown = None
        rows.append((name, shown if shown is not None else f"hex {raw.hex()}"))
    return format_html(
        "<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    )


class _MessageAdmin(ReadOnlyAdmin):
    list_select_related = ("tenant",)

    @admin.display(description="value")
    def value_text(self, obj: InboxMessage | OutboxMessage) -> str:
        return format_html("<pre>{}</pre>", _text(obj.value))

    @admin.display(description="key")
    def key_hex(self, obj: InboxMessage | OutboxMessage) -> str:
        return bytes(obj.key).hex() if obj.key is not None else "—"

    @admin.display(description="headers")
    def headers_table(self, obj: InboxMessage | OutboxMessage) -> str:
        return _headers_table(obj.headers)


@admin.register(InboxMessage)
class InboxMessageAdmin(_MessageAdmin):
    list_display = (
        "id",
        "app",
        "topic",
        "partition",
        "offset",
        "message_type",
        tenant_column,
        "state",
        "attempts",
        "created_at",
    )
    list_filter = ("app", "topic", "state", "tenant")
    search_fields = ("message_type", "error", "ordering_key")
    readonly_fields = (
        "app",
        "consumer_group",
        "topic",
        "partition",
        "offset",
        "key_hex",
        "message_type",
        "tenant",
        "ordering_key",
        "state",
        "attempts",
        "error_text",
        "not_before",
        "enqueued_at",
        "created_at",
        "handled_at",
        "failure_announced_at",
        "headers_table",
        "value_text",
    )
    exclude = ("key", "value", "headers", "error")
    actions = ["replay"]

    @admin.display(description="error")
    def error_text(self, obj: InboxMessage) -> str:
        return format_html("<pre>{}</pre>", obj.error)

    @admin.action(description="Replay selected dead letters")
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        dead = list(queryset.filter(state=InboxMessage.State.DEAD))
        with transaction.atomic():
            queued = inbox.replay(dead, by=request.user.get_username())
        announced = [row for row in dead if row.failure_announced_at is not None]
        invalid = len(dead) - queued - len(announced)
        if queued:
            self.message_user(
                request, f"{queued} message(s) put back in the queue", messages.SUCCESS
            )
        if announced:
            listing = ", ".join(f"#{row.id}" for row in announced)
            self.message_user(
                request,
                f"{len(announced)} message(s) stay dead: their failure was already announced "
                f"to their sender, who may have undone its part ({listing})",
                messages.WARNING,
            )
        if invalid:
            reasons = Replay.objects.filter(
                message__in=dead, outcome=Replay.Outcome.STILL_INVALID
            ).order_by("-at")[:invalid]
            listing = "; ".join(f"#{r.message_id}: {r.detail[:200]}" for r in reasons)
            self.message_user(
                request,
                f"{invalid} message(s) are still invalid and stay dead: {listing}",
                messages.ERROR,
            )


@admin.register(DeadLetter)
class DeadLetterAdmin(InboxMessageAdmin):
    list_display = (
        "id",
        "app",
        "topic",
        "offset",
        "message_type",
        tenant_column,
        "reason",
        "created_at",
    )
    list_filter = ("app", "topic", "tenant")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(state=InboxMessage.State.DEAD)

    @admin.display(description="reason")
    def reason(self, obj: InboxMessage) -> str:
        return truncated(obj.error)


SentFilter = set_filter("sent_at", "sent", [("yes", "sent"), ("no", "not sent")])
ParkedFilter = set_filter(
    "parked_at", "parked", [("yes", "parked (refused by the broker)"), ("no", "not parked")]
)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(_MessageAdmin):
    list_display = (
        "id",
        "topic",
        "message_type",
        tenant_column,
        "key_hex",
        "created_at",
        "sent_at",
        "parked_at",
    )
    list_filter = (SentFilter, ParkedFilter, "topic", "tenant")
    readonly_fields = (
        "topic",
        "key_hex",
        "message_type",
        "tenant",
        "created_at",
        "sent_at",
        "parked_at",
        "error",
        "headers_table",
        "value_text",
    )
    exclude = ("key", "value", "headers")
    actions = ["retry_parked"]

    @admin.action(description="Publish selected parked rows again")
    def retry_parked(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            count = queryset.exclude(parked_at=None).filter(sent_at=None).update(parked_at=None)
        transaction.on_commit(bus_wake_relay)
        self.message_user(request, f"{count} parked row(s) will be published again")


@admin.register(PartitionEpoch)
class PartitionEpochAdmin(ReadOnlyAdmin):
    """Partitions whose offsets started again (a recreated topic, a restarted broker)."""

    list_display = ("consumer_group", "topic", "partition", "epoch", "short_reason", "changed_at")
    list_filter = ("consumer_group", "topic")

    @admin.display(description="reason")
    def short_reason(self, obj: PartitionEpoch) -> str:
        return truncated(obj.reason)


@admin.register(Replay)
class ReplayAdmin(ReadOnlyAdmin):
    """Who replayed which dead letter, when, and what came of it."""

    list_display = ("at", "message", "by", "outcome", "short_detail")
    list_filter = ("outcome",)
    search_fields = ("by", "detail")

    @admin.display(description="detail")
    def short_detail(self, obj: Replay) -> str:
        return truncated(obj.detail)
