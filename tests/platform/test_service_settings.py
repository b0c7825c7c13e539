"""ATLAS_SERVICES and the consumer groups: settings that would merge groups are refused.

Upstream's KAFKA_CONSUMER_GROUP names one Go service's group. Here five services
read overlapping topics, so one group for all would hand each record to only one
of them; each process refuses such a setting in one line, before it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUPS = (
    "from project.messaging import registry; "
    "print({app: c.group for app, c in sorted(registry.running().items())})"
)


def run(*args: str, **variables: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KAFKA_CONSUMER_GROUP") and k != "ATLAS_SERVICES"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL="sqlite:////tmp/atlas-settings-test.sqlite3",
        ATLAS_EXTRA_APPS="",
        BASE_SERVICE_URL="http://127.0.0.1:9/api/",  # no local directory consumer
        **variables,
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["manage.py", "kafka_bridge"],
        ["-m", "celery", "-A", "project", "worker", "-c", "1"],
        ["manage.py", "outbox_relay"],
    ],
)
def test_upstreams_group_setting_with_several_services_is_refused(command):
    line = one_line(run(*command, KAFKA_CONSUMER_GROUP="Notes Service [pr-1]"))
    assert "KAFKA_CONSUMER_GROUP names one service's consumer group, but 5 services run" in line
    assert "ATLAS_SERVICES" in line and "KAFKA_CONSUMER_GROUP_NOTES" in line


def test_upstreams_group_setting_names_the_one_service_that_runs():
    result = run(
        "manage.py", "shell", "-c", GROUPS,
        ATLAS_SERVICES="notes", KAFKA_CONSUMER_GROUP="Notes Service [pr-1]",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "{'notes': 'Notes Service [pr-1]'}"


def test_each_service_may_name_its_own_group():
    result = run(
        "manage.py", "shell", "-c", GROUPS,
        ATLAS_SERVICES="notes,parties", KAFKA_CONSUMER_GROUP_PARTIES="Party Service [b]",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    groups = "{'notes': 'Notes Service', 'parties': 'Party Service [b]'}"
    assert result.stdout.strip().splitlines()[-1] == groups


def test_two_services_in_one_group_are_refused_by_the_bridge():
    shared = {"KAFKA_CONSUMER_GROUP_NOTES": "Shared", "KAFKA_CONSUMER_GROUP_PARTIES": "Shared"}
    line = one_line(run("manage.py", "kafka_bridge", ATLAS_SERVICES="notes,parties", **shared))
    assert "consumer groups would be shared: 'Shared' by parties, notes" in line


def test_an_unknown_service_is_refused():
    line = one_line(run("manage.py", "check", ATLAS_SERVICES="notes,guilds"))
    assert line == (
        "atlas: configuration error: ATLAS_SERVICES names guilds; "
        "the services are invites, parties, messengers, transport, notes"
    )


def test_the_bridge_refuses_an_app_outside_the_services():
    line = one_line(run("manage.py", "kafka_bridge", "--apps", "parties", ATLAS_SERVICES="notes"))
    assert "parties not among the services this deployment runs (ATLAS_SERVICES=notes)" in line


def test_an_upstream_variable_not_used_here_is_said_once_not_ignored_silently():
    result = run("manage.py", "check", ATLAS_ENV="main", KAFKA_CONSUMER_ENGINE="reader")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "is set but not used here" in line]
    assert len(warnings) == 2, result.stderr
    assert "ATLAS_ENV is set but not used here" in warnings[0]
    assert "REDIS_URL=redis://host:6379/N" in warnings[0]
    assert "KAFKA_CONSUMER_ENGINE is set but not used here" in warnings[1]
