"""``manage.py openapi [--running] [--output FILE]``: the REST API's OpenAPI 3.1 document.

By default the document of a deployment running all five services, as committed in
docs/openapi.json (a test regenerates it and compares); ``--running``: the routes
this deployment serves (``ATLAS_SERVICES``), as ``/api/openapi.json`` answers.
"""

from django.conf import settings

from project.commands import DocumentCommand
from project.rest import openapi
from project.urls import api_urlpatterns


def every_service_document() -> str:
    """docs/openapi.json: every service's routes, no extra (test) apps."""
    return openapi.dumps(openapi.build(api_urlpatterns(list(settings.DOMAIN_APPS), [])))


class Command(DocumentCommand):
    help = "Write the OpenAPI document of the REST API (docs/openapi.json)."
    running_help = "this deployment's routes"

    def document(self, *, running: bool) -> str:
        return openapi.dumps(openapi.running_document()) if running else every_service_document()
