"""The three routes of ``project.observability.urls``; none needs tenant headers."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST

from project.observability import diagnostics, metrics, readiness, state

TEXT = "text/plain; charset=utf-8"


def require_GET(view: Callable[[HttpRequest], HttpResponse]):
    """Another method is a 405 with an empty body typed as JSON, as every API route's."""

    @functools.wraps(view)
    def only_get(request: HttpRequest) -> HttpResponse:
        if request.method != "GET":
            response = HttpResponse(b"", status=405, content_type="application/json")
            response["Allow"] = "GET"
            return response
        return view(request)

    return only_get


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
