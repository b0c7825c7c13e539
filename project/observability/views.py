"""The three routes of ``project.observability.urls``; none needs tenant headers."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from project.observability import diagnostics, metrics, readiness, state

TEXT = "text/plain; charset=utf-8"


@csrf_exempt  # a POST gets 405, as any other method but GET
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    if readiness.failures():
        return HttpResponse(b"not ready", status=503, content_type=TEXT)
    return HttpResponse(b"ready", content_type=TEXT)


@csrf_exempt  # a POST gets 405, as any other method but GET
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    body = metrics.exposition(state.DatabaseState(), state.KafkaState())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


@csrf_exempt  # a POST gets 405, as any other method but GET
@require_GET
def consumers(request: HttpRequest) -> HttpResponse:
    body = json.dumps(diagnostics.consumers(), indent=2) + "\n"
    return HttpResponse(body.encode(), content_type="application/json")
