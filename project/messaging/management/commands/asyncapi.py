"""``manage.py asyncapi [--running] [--output FILE]``: the Kafka side's AsyncAPI 3 document.

By default every service's, as committed in docs/asyncapi.yaml (a test regenerates
it and compares); ``--running``: the apps this deployment runs (``ATLAS_SERVICES``).
"""

from django.apps import apps as django_apps
from django.conf import settings

from project.commands import DocumentCommand
from project.messaging import asyncapi, registry


def every_service_document() -> str:
    """docs/asyncapi.yaml: the platform's own consumer and the five services'."""
    extra = set(settings.EXTRA_APPS)
    apps = [
        app for app in registry.consumers() if django_apps.get_app_config(app).name not in extra
    ]
    return asyncapi.dumps(asyncapi.build(apps))


class Command(DocumentCommand):
    help = "Write the AsyncAPI document of the Kafka records (docs/asyncapi.yaml)."
    running_help = "this deployment's apps"

    def document(self, *, running: bool) -> str:
        if running:
            return asyncapi.dumps(asyncapi.build(list(registry.running())))
        return every_service_document()
