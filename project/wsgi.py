"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from project.web import BodyReader

# Bodies are read whole, within a deadline and a size bound, before Django runs.
application = BodyReader(get_wsgi_application())
