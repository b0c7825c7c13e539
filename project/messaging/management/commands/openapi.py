"""``manage.py openapi [--running] [--output FILE]``: the REST API's OpenAPI 3.1 document.

By default the document of a deployment running all five services, as committed in
docs/openapi.json (a test regenerates it and compares); ``--running``: the routes
this deployment serves (``ATLAS_SERVICES``), as ``/api/openapi.json`` answers.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from project.rest import openapi
from project.urls import api_urlpatterns


def every_service_document() -> str:
    """docs/openapi.json: every service's routes, no extra (test) apps."""
    return openapi.dumps(openapi.build(api_urlpatterns(list(settings.DOMAIN_APPS), [])))


class Command(BaseCommand):
    help = "Write the OpenAPI document of the REST API (docs/openapi.json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--running", action="store_true", help="this deployment's routes")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args: object, running: bool, output: str | None, **options: object) -> None:
        text = openapi.dumps(openapi.running_document()) if running else every_service_document()
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
