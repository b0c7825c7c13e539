"""Exceptions a view raises to answer with a status; ``routing`` turns them into responses."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class HttpError(Exception):
    """Answer ``status`` with ``body`` (empty by default, as upstream mostly does)."""

    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class BadRequest(HttpError):
    """400 with an empty body: bad tenant headers, a bad path id, an undecodable body."""

    def __init__(self, body: bytes = b"") -> None:
        super().__init__(400, body)


class NotFound(HttpError):
    """404 with an empty body."""

    def __init__(self) -> None:
        super().__init__(404)


def found(value: T | None, missing: HttpError | None = None) -> T:
    """A looked-up resource, or the view's answer to its absence (404 unless
    ``missing`` says otherwise: upstream answers some reads with a 500)."""
    if value is None:
        raise missing if missing is not None else NotFound()
    return value
