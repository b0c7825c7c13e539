"""``manage.py asyncapi [--running] [--output FILE]``: the Kafka side's AsyncAPI 3 document.

By default every service's, as committed in docs/asyncapi.yaml (a test regenerates
it and compares); ``--running``: the apps this deployment runs (``ATLAS_SERVICES``).
"""

from pathlib import Path

from django.apps import apps as django_apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from project.messaging import asyncapi, registry


def every_service_document() -> str:
    """docs/asyncapi.yaml: the platform's own consumer and the five services'."""
    extra = set(settings.EXTRA_APPS)
    apps = [
        app for app in registry.consumers() if django_apps.get_app_config(app).name not in extra
    ]
    return asyncapi.dumps(asyncapi.build(apps))


class Command(BaseCommand):
    help = "Write the AsyncAPI document of the Kafka records (docs/asyncapi.yaml)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--running", action="store_true", help="this deployment's apps")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args: object, running: bool, output: str | None, **options: object) -> None:
        if running:
            text = asyncapi.dumps(asyncapi.build(list(registry.running())))
        else:
            text = every_service_document()
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
