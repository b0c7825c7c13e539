"""What a lookup can end in besides an answer (upstream's client: 400, 404, anything else)."""

from __future__ import annotations

from project.messaging.errors import Transient


class LookupFailed(Exception):
    """The service did not give an answer."""


class NotFound(LookupFailed):
    """404: the service does not know the thing (a definite answer, never retried)."""


class BadRequest(LookupFailed):
    """400: the service refused the question."""


class Unavailable(LookupFailed, Transient):
    """No answer after upstream's three attempts (transport errors, 503, other statuses).

    Transient: a handler that lets it through is retried with back-off.
    """
