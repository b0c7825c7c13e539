"""Work an app must have done before its process consumes or serves ("before serving").

Upstream's services do some work before they start consuming and serving: the
transports service loads every tenant's route configuration, so the first START
or route GET after a restart finds its route. Here an app names such work on its
AppConfig, as the dotted path of a function without arguments::

    class TransportConfig(AppConfig):
        name = "transport"
        before_serving = "transport.tick.configure_at_start"

``run(labels)`` calls the hooks of the named apps (when none are named, those of
this deployment: the services ``ATLAS_SERVICES`` runs and the platform's own
apps), in order, outside any transaction: a hook may call other services over
HTTP. The bridge runs its apps' hooks before it subscribes (``kafka_bridge``);
the web server runs this deployment's before it binds (gunicorn's
``on_starting`` → ``manage.py before_serving``).

A hook that raises is logged and start-up goes on: the hook makes the first
moments right, it must not keep a service down; what it could not do is left to
the app's periodic work (transport's tick). A hook bounds its own time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from django.apps import apps
from django.db import transaction
from django.utils.module_loading import import_string

from project import deployment

logger = logging.getLogger(__name__)

ATTRIBUTE = "before_serving"


def hooks(labels: Iterable[str] | None = None) -> list[tuple[str, Callable[[], object]]]:
    """(app label, hook) of the named apps that declare one, in the order named; a
    label without an installed app has none. None named: the apps this deployment
    runs (a service outside ``ATLAS_SERVICES`` is installed but not run), in
    installed order.

    A path that does not import is a defect of the app and fails here, loudly.
    """
    if labels is None:
        configs = [config for config in apps.get_app_configs() if deployment.runs(config.label)]
    else:
        configs = [apps.app_configs[label] for label in labels if label in apps.app_configs]
    found = []
    for config in configs:
        path = getattr(config, ATTRIBUTE, "")
        if path:
            found.append((config.label, import_string(path)))
    return found


def run(labels: Iterable[str] | None = None) -> dict[str, bool]:
    """Run the hooks of ``labels``' apps; returns, per app, whether its hook completed."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("before-serving hooks run outside any transaction (they may use HTTP)")
    outcome: dict[str, bool] = {}
    for label, hook in hooks(labels):
        began = time.monotonic()
        try:
            hook()
        except Exception:
            logger.exception("%s: before-serving work failed; starting without it", label)
            outcome[label] = False
        else:
            logger.info("%s: before-serving work done in %.1f s", label, time.monotonic() - began)
            outcome[label] = True
    return outcome
