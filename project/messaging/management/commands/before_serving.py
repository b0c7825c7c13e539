"""``manage.py before_serving [--apps transport]``: the apps' before-serving work, then exit.

The web server runs it before it binds (``gunicorn_conf.on_starting``), in a process
of its own so that gunicorn's master forks its workers without a database connection
or HTTP pool to share; an operator may run it too (an init container). It always
exits 0: a hook that failed is logged, and serving goes on (``project.startup``).
"""

from django.core.management.base import BaseCommand, CommandParser

from project import startup
from project.commands import add_apps_argument


class Command(BaseCommand):
    help = "Do the apps' before-serving work (transport: load every tenant's routes)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_apps_argument(parser, "prepare")

    def handle(self, *args: object, apps: list[str], **options: object) -> None:
        chosen = apps or None
        outcome = startup.run(chosen)
        done = ", ".join(f"{label}: {'done' if ok else 'failed'}" for label, ok in outcome.items())
        self.stdout.write(f"before serving: {done or 'nothing to do'}")
