#!/usr/bin/env python
"""Django's command-line entry point."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    try:
        from django.core.exceptions import ImproperlyConfigured
        from django.core.management import execute_from_command_line
    except ImportError:
        sys.exit(
            f"manage.py: Django is not installed for {sys.executable}. Run bin/setup once, "
            "then use .venv/bin/python manage.py … (or bin/stack, bin/test)."
        )
    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        sys.exit(f"manage.py: configuration error: {exc}")


if __name__ == "__main__":
    main()
