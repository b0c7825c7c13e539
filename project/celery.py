"""The Celery application; configuration comes from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

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
