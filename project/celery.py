"""The Celery application; configuration comes from Django settings (``CELERY_*``)."""

import logging
import os

from celery import Celery, Task
from celery.signals import task_postrun

from project.observability.flower import require_authentication_beyond_loopback

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

logger = logging.getLogger("project.tasks")


class AtlasTask(Task):
    """The base of every task of the project (``@shared_task`` uses it).

    Owns what every task needs, so no task repeats it: late acknowledgement (a
    killed worker's task is delivered again), no result backend, a soft time limit
    that raises inside a hung task (``CELERY_TASK_SOFT_TIME_LIMIT``; the inbox counts
    it as a transient failure of the row, so a hung handler cannot hold its key for
    ever) and a hard one that ends its process, and one log line per failure.
    """

    acks_late = True
    ignore_result = True

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        logger.error("task %s[%s] failed: %r", self.name, task_id, exc)


app = Celery("project", task_cls=AtlasTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# `celery -A project flower` refuses to listen beyond 127.0.0.1 without authentication.
require_authentication_beyond_loopback()

# Celery's Django fix-up closes every database connection around each task unless
# this old-style key is set; reconnecting costs more than most tasks. Instead,
# connections are kept and, after each task, closed the way Django closes them
# after a request: when broken or older than CONN_MAX_AGE.
app.conf.CELERY_DB_REUSE_MAX = 1000


@task_postrun.connect
def _close_unusable_connections(sender: object = None, **kwargs: object) -> None:
    # An eagerly applied task runs inside its caller (a test, the admin), whose
    # connection and transaction are not the task's to close.
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
