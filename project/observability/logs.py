"""Log formatting and filtering: JSON lines on request, quiet idle periodic tasks.

``LOG_FORMAT=json`` makes every process write one JSON object per line: ``time``
(RFC 3339, UTC), ``level``, ``logger``, ``message``, the record's ``extra``
fields, and ``error`` (the traceback) when there is one. Anything else keeps the
plain ``time LEVEL logger: message`` lines.

Beat runs the sweepers and the apps' periodic work several times a second in
total; logging each run (beat's "Sending due task", the worker's "received" and
"succeeded") buried everything else. ``QuietPeriodicTasks`` drops those lines for
the tasks in ``CELERY_BEAT_SCHEDULE`` unless the task returned something (a
sweeper that re-enqueued rows returns their count; a dict of counts not all zero)
or failed (errors always pass).
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging

# Every process configures logging (this module) when it starts, beat included:
# importing ``flower`` here connects its beat signal before beat starts sending.
from project.observability import flower  # noqa: F401

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Celery hands its format arguments to custom handlers as ``extra={"data": ...}``.
_SKIPPED_EXTRA = {"data"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name in _SKIPPED_EXTRA or name.startswith("_"):
                continue
            entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def idle_result(text: str) -> bool:
    """Whether a task's result (Celery logs its repr) says it did nothing: a falsy value,
    or a dict of counts that are all zero (``{'ran': True, 'transitions': 0, 'records': 0}``)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False
    if not value:
        return True
    if isinstance(value, dict):
        counts = [
            v for v in value.values() if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        return bool(counts) and not any(counts)
    return False


def _periodic_tasks() -> set[str]:
    from django.conf import settings

    return {entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values()}


class QuietPeriodicTasks(logging.Filter):
    """Drops Celery's per-run INFO lines of periodic tasks that did nothing."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._periodic: set[str] | None = None

    @property
    def periodic(self) -> set[str]:
        if self._periodic is None:
            self._periodic = _periodic_tasks()
        return self._periodic

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("celery."):
            return True
        args = record.args
        if record.name == "celery.worker.request" and str(record.msg).startswith(
            "Discarding revoked task"
        ):
            # A run that expired in the queue (transport's tick, while no worker ran).
            return not (isinstance(args, tuple) and args and args[0] in self.periodic)
        if record.name == "celery.beat":
            if (
                isinstance(args, tuple)
                and len(args) == 2
                and str(record.msg).startswith("Scheduler: Sending due task")
            ):
                return args[1] not in self.periodic
            return True
        if not isinstance(args, dict) or args.get("name") not in self.periodic:
            return True
        message = str(record.msg)
        if message.startswith("Task %(name)s[%(id)s] received"):
            return False
        if "succeeded in" in message:
            return not idle_result(str(args.get("return_value")))
        return True


def handled(row, *, tenant: str, outcome: str, seconds: float | None) -> None:
    """The one INFO line of a handled inbox row (after its transaction committed)."""
    key = bytes(row.key).hex() if row.key is not None else ""
    duration_ms = round(seconds * 1000, 3) if seconds is not None else None
    _handled_logger.info(
        "handled %s %s key=%s tenant=%s: %s in %s ms",
        row.app,
        row.message_type,
        key,
        tenant,
        outcome,
        duration_ms,
        extra={
            "app": row.app,
            "topic": row.topic,
            "type": row.message_type,
            "key": key,
            "tenant": tenant,
            "outcome": outcome,
            "duration_ms": duration_ms,
            "inbox_id": row.id,
        },
    )


_handled_logger = logging.getLogger("project.handled")
