"""Before-serving hooks (``project.startup``): named on an app's AppConfig, run in
order outside any transaction, a failing one logged without stopping the others."""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.db import transaction

from project import startup
from tests.echo import startup as echo_startup
from transport import tick


@pytest.fixture(autouse=True)
def _calls():
    echo_startup.calls.clear()
    yield
    echo_startup.calls.clear()


def test_an_app_names_its_hook_on_its_app_config(settings):
    settings.ATLAS_SERVICES = list(settings.DOMAIN_APPS)
    found = dict(startup.hooks())
    assert found["transport"] is tick.configure_at_start
    assert found["echo"] is echo_startup.before_serving
    assert "notes" not in found  # an app without one

    # only the named apps' hooks, in the order named; an unknown label has none
    assert [label for label, _ in startup.hooks(["echo", "nope", "notes"])] == ["echo"]


def test_by_default_only_the_services_this_deployment_runs(settings):
    settings.ATLAS_SERVICES = ["notes"]  # transport is installed, not run

    assert [label for label, _ in startup.hooks()] == ["echo"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_hook_is_logged_and_the_others_still_run(monkeypatch, caplog, settings):
    settings.SERVICE_URLS = {}  # transport seeds known tenants: no HTTP
    settings.BASE_SERVICE_URL = ""
    monkeypatch.setenv("ECHO_BEFORE_SERVING_FAILS", "1")

    with caplog.at_level(logging.INFO, logger="project.startup"):
        outcome = startup.run(["echo", "transport"])

    assert outcome == {"echo": False, "transport": True}
    assert echo_startup.calls == ["echo"]
    assert "echo: before-serving work failed; starting without it" in caplog.text
    assert "echo told to fail before serving" in caplog.text


@pytest.mark.django_db
def test_hooks_never_run_inside_a_transaction():
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside any transaction"):
        startup.run(["echo"])
    assert echo_startup.calls == []


@pytest.mark.django_db(transaction=True)
def test_the_command_runs_the_named_apps_hooks(capsys):
    call_command("before_serving", "--apps", "echo")

    assert echo_startup.calls == ["echo"]
    assert "before serving: echo: done" in capsys.readouterr().out
