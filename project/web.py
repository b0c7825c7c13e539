"""What the web server does before Django sees a request (docs/design.md, "REST").

``BodyReader`` (WSGI, around Django's application) reads every request body whole
before the application runs:

- within ``WEB_BODY_READ_TIMEOUT`` seconds (upstream's server: ``ReadTimeout`` 5 s):
  a client that declares more than it sends, or trickles, is answered 408 and its
  connection closed, so it holds one worker thread for at most that long;
- at most ``REST_MAX_BODY_BYTES`` under ``/api/`` (the largest record the producer
  and broker take, so no larger body can be anything that can be published): a
  larger one is answered 413 with the library's error body, not read into memory;
- a chunked body (no ``Content-Length``) is read like any other (Django alone would
  read it as empty).

``ApiHostMiddleware`` (first in ``MIDDLEWARE``) lets ``/api/`` answer whatever the
``Host``: a Kubernetes probe sends the pod's IP, and the API builds no absolute
URL from it (links are paths). The admin keeps ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from project.messaging import wire

# How much of an oversized body is read and dropped so the client, still sending,
# gets the 413 rather than a reset connection; beyond that the connection is closed.
_DRAIN_LIMIT = 8 * 1024 * 1024
_CHUNK = 64 * 1024


class _Timeout(Exception):
    pass


def _error(status: int, title: str) -> tuple[str, list[tuple[str, str]], bytes]:
    body = wire.dumps({"errors": [{"status": str(status), "title": title}]})
    reason = {408: "Request Timeout", 413: "Content Too Large"}[status]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return f"{status} {reason}", headers, body


class BodyReader:
    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length_text = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked and length_text in ("", "0"):
            return self.application(environ, start_response)
        try:
            declared = int(length_text) if length_text else None
        except ValueError:  # gunicorn refuses these before; Django reads them as 0
            return self.application(environ, start_response)
        limit = (
            settings.REST_MAX_BODY_BYTES
            if environ.get("PATH_INFO", "").startswith("/api/")
            else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        )
        stream = environ["wsgi.input"]
        sock = environ.get("gunicorn.socket")
        try:
            with _deadline(sock, settings.WEB_BODY_READ_TIMEOUT):
                if declared is not None and declared > limit:
                    drained = _drain(stream, min(declared, _DRAIN_LIMIT))
                    if drained < declared:
                        _close_reading(sock)
                    return _answer(start_response, 413, "request body too large")
                body = _read(stream, declared, limit)
        except _Timeout:
            _close_reading(sock)
            return _answer(start_response, 408, "request body not received in time")
        if body is None:
            return _answer(start_response, 413, "request body too large")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.application(environ, start_response)


def _answer(start_response: Callable, status: int, title: str) -> list[bytes]:
    line, headers, body = _error(status, title)
    start_response(line, headers)
    return [body]


def _read(stream, declared: int | None, limit: int) -> bytes | None:
    """The whole body, or None when it is over ``limit``; a short one is a timeout."""
    buffer = io.BytesIO()
    wanted = declared if declared is not None else limit + 1
    while buffer.tell() < wanted:
        data = stream.read(min(_CHUNK, wanted - buffer.tell()))
        if not data:
            break
        buffer.write(data)
    if declared is not None and buffer.tell() < declared:
        raise _Timeout  # the connection ended or was cut at the deadline
    if buffer.tell() > limit:
        _drain(stream, _DRAIN_LIMIT)
        return None
    return buffer.getvalue()


def _drain(stream, most: int) -> int:
    total = 0
    while total < most:
        data = stream.read(min(_CHUNK, most - total))
        if not data:
            break
        total += len(data)
    return total


class _deadline:
    """Cut the connection's reading side when ``seconds`` pass: a blocked read
    returns at once with what it has (gunicorn then sees the end of input)."""

    def __init__(self, sock: socket.socket | None, seconds: float) -> None:
        self.sock = sock
        self.seconds = seconds
        self.fired = threading.Event()
        self.timer: threading.Timer | None = None

    def _fire(self) -> None:
        self.fired.set()
        _close_reading(self.sock)

    def __enter__(self) -> _deadline:
        if self.sock is not None:
            self.timer = threading.Timer(self.seconds, self._fire)
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if self.timer is not None:
            self.timer.cancel()
        late = kind is None or (issubclass(kind, Exception) and not issubclass(kind, _Timeout))
        if self.fired.is_set() and late:
            raise _Timeout from exc
        return False


def _close_reading(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)


class ApiHostMiddleware:
    """``/api/`` answers whatever the ``Host`` (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            request.get_host = request._get_raw_host  # no ALLOWED_HOSTS check
        return self.get_response(request)
