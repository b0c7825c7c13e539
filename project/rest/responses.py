"""Responses without a document, and commands buffered for Kafka."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from project.messaging import bus

JSON = "application/json"


def empty(status: int) -> HttpResponse:
    """Upstream answers most outcomes with a bare status, still typed as JSON."""
    return HttpResponse(b"", status=status, content_type=JSON)


def accepted() -> HttpResponse:
    """202: the command is buffered in the outbox and will reach Kafka."""
    return empty(202)


def no_content() -> HttpResponse:
    return empty(204)


def emit_command(request: HttpRequest, *, topic: str, key: bytes, value: dict) -> None:
    """Buffer a command caused by this request, with its tenant in the Kafka form.

    The record carries the request's ``ENVIRONMENT`` and a span of its
    ``traceparent`` (a new root trace without one), like records caused by a
    consumed message.
    """
    with transaction.atomic(), bus.caused_by(request.cause):
        bus.emit(tenant=request.tenant, topic=topic, key=key, value=value)
