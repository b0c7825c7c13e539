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
