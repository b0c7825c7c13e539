"""Log lines: JSON on request, one line per handled record, idle periodic tasks quiet."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.app import trace as celery_trace

from project.observability.logs import JsonFormatter, QuietPeriodicTasks

ROOT = Path(__file__).resolve().parents[2]


def _record(name: str, msg: str, args, level: int = logging.INFO, **extra) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_json_line_has_time_level_logger_message_and_the_extra_fields():
    record = _record("project.handled", "handled %s", ("x",), app="echo", duration_ms=1.5)

    entry = json.loads(JsonFormatter().format(record))

    assert list(entry)[:4] == ["time", "level", "logger", "message"]
    assert entry["level"] == "INFO" and entry["logger"] == "project.handled"
    assert entry["message"] == "handled x"
    assert entry["app"] == "echo" and entry["duration_ms"] == 1.5
    assert entry["time"].endswith("+00:00")


def test_an_exception_is_one_json_line_with_its_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["error"]


def test_log_format_json_makes_every_process_log_json_lines(tmp_path):
    # a process started as the project's processes are, with LOG_FORMAT=json
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('project.handled').info('hello %s', 'there', extra={'app': 'echo'}); "
        "logging.getLogger('celery.beat').info('Scheduler: Sending due task %s (%s)', "
        "'inbox-sweep', 'project.messaging.tasks.sweep_inbox_task')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "LOG_FORMAT": "json",
        "ATLAS_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60
    )

    lines = [json.loads(line) for line in done.stderr.decode().splitlines() if line.strip()]
    assert [line["message"] for line in lines] == ["hello there"]  # the idle sweep is dropped
    assert lines[0]["app"] == "echo" and lines[0]["logger"] == "project.handled"


PERIODIC = "project.messaging.tasks.sweep_inbox_task"
RECEIVED = celery_trace.LOG_RECEIVED
REVOKED = "Discarding revoked task: %s[%s]"
IDLE_TICK = "{'ran': True, 'transitions': 0, 'records': 0}"
BUSY_TICK = "{'ran': True, 'transitions': 2, 'records': 0}"


@pytest.mark.parametrize(
    ("record", "kept"),
    [
        (_record("celery.beat", "Scheduler: Sending due task %s (%s)", ("x", PERIODIC)), False),
        (_record("celery.beat", "Scheduler: Sending due task %s (%s)", ("x", "other")), True),
        (_record("celery.worker.strategy", RECEIVED, ({"name": PERIODIC},)), False),
        (_record("celery.worker.request", REVOKED, (PERIODIC, "1")), False),
        (_record("celery.worker.request", REVOKED, ("t.x", "1")), True),
        (_record("celery.worker.strategy", RECEIVED, ({"name": "t.x"},)), True),
        (
            _record(
                "celery.app.trace",
                celery_trace.LOG_SUCCESS,
                ({"name": PERIODIC, "id": "1", "runtime": 0.1, "return_value": "0"},),
            ),
            False,
        ),
        (
            _record(
                "celery.app.trace",
                celery_trace.LOG_SUCCESS,
                ({"name": PERIODIC, "id": "1", "runtime": 0.1, "return_value": "3"},),
            ),
            True,
        ),
        (
            _record(
                "celery.app.trace",
                celery_trace.LOG_SUCCESS,
                ({"name": PERIODIC, "id": "1", "runtime": 0.1, "return_value": IDLE_TICK},),
            ),
            False,
        ),
        (
            _record(
                "celery.app.trace",
                celery_trace.LOG_SUCCESS,
                ({"name": PERIODIC, "id": "1", "runtime": 0.1, "return_value": BUSY_TICK},),
            ),
            True,
        ),
        (
            _record(
                "celery.app.trace",
                celery_trace.LOG_FAILURE,
                ({"name": PERIODIC, "id": "1", "description": "raised", "exc": "E"},),
                logging.ERROR,
            ),
            True,
        ),
    ],
)
def test_idle_periodic_task_lines_are_dropped_and_the_rest_kept(record, kept):
    assert QuietPeriodicTasks().filter(record) is kept


def test_periodic_tasks_send_no_task_events_and_the_rest_do():
    from project.celery import app

    app.loader.import_default_modules()
    assert app.tasks["project.messaging.tasks.sweep_inbox_task"].send_events is False
    assert app.tasks["project.messaging.tasks.sweep_outbox_task"].send_events is False
    assert app.tasks["project.messaging.tasks.handle_inbox_task"].send_events is True
    assert app.tasks["project.messaging.tasks.prepare_inbox_task"].send_events is True
