"""Flower's task list without the idle runs of periodic tasks.

Beat starts a sweeper or a tick several times a second in total; each run sent
three or four task events (sent, received, started, succeeded), so Flower's list
showed nothing else. Periodic tasks (those in ``CELERY_BEAT_SCHEDULE``) send no
task events: the annotation below turns ``send_events`` off for them in the
workers, and beat, which sends nothing but periodic tasks, sends no task-sent
events. Their failures still reach the logs, and the work they cause (the inbox
tasks a sweeper enqueues) still shows in Flower.
"""

from __future__ import annotations

import sys

from celery.signals import beat_init


def periodic_tasks() -> set[str]:
    from django.conf import settings

    return {entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values()}


class QuietPeriodicEvents:
    """A Celery task annotation (``CELERY_TASK_ANNOTATIONS``): no events from periodic tasks."""

    def annotate(self, task) -> dict | None:
        return {"send_events": False} if task.name in periodic_tasks() else None


@beat_init.connect
def _beat_sends_no_task_events(sender=None, **kwargs) -> None:
    sender.app.conf.task_send_sent_event = False


LOCAL_ADDRESSES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def refusal(options) -> str | None:
    """Why Flower must not start with these options, or None.

    Flower can revoke and terminate tasks and shows their arguments (character ids,
    messages); with no ``--address`` it listens on every interface. So beyond the
    loopback it needs authentication: ``--basic-auth``/``FLOWER_BASIC_AUTH``
    (``user:password``), or ``--auth`` with an OAuth provider.
    """
    if options.unix_socket or (options.address or "").strip() in LOCAL_ADDRESSES:
        return None
    if any(entry.strip() for entry in (options.basic_auth or [])):
        return None
    if options.auth and options.auth_provider:
        return None
    where = options.address or "every interface"
    return (
        f"atlas: configuration error: Flower would listen on {where} without "
        "authentication: set FLOWER_BASIC_AUTH=user:password (or --basic-auth, or "
        "--auth with --auth_provider), or --address=127.0.0.1"
    )


def require_authentication_beyond_loopback() -> None:
    """Make ``celery -A project flower`` refuse, in one line, to serve unauthenticated
    beyond 127.0.0.1: checked once Flower has read its options (environment, config
    file, command line), before it binds. Installed by project/celery.py."""
    # The celery command line imports its plugins' commands (Flower's among them)
    # before it loads the app; any other process (bridge, web) has no Flower to guard
    # and is not made to import it.
    command = sys.modules.get("flower.command")
    if command is None:
        return
    if getattr(command.extract_settings, "_atlas_guarded", False):
        return
    extract_settings = command.extract_settings

    def guarded() -> None:
        if reason := refusal(command.options):
            raise SystemExit(reason)
        extract_settings()

    guarded._atlas_guarded = True
    command.extract_settings = guarded
