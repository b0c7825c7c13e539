"""``manage.py kafka_bridge [--apps invites,parties]``: Kafka → inbox → Celery."""

import faulthandler
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from project import startup
from project.commands import add_apps_argument
from project.messaging import bridge, registry
from project.messaging.signals import stop_event
from project.shadow import switch


class Command(BaseCommand):
    help = "Consume the apps' Kafka topics into the inbox and enqueue their handling."

    def add_arguments(self, parser: CommandParser) -> None:
        add_apps_argument(parser, "bridge")

    def handle(self, *args: object, apps: list[str], **options: object) -> None:
        # SIGUSR1 prints every thread's stack: where a consumer thread waits, live.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        running = registry.running()
        chosen = apps
        if not chosen:
            chosen = [name for name, c in running.items() if c.subscriptions]
        if outside := [app for app in chosen if app not in running]:
            raise CommandError(
                f"{', '.join(outside)} not among the services this deployment runs "
                f"(ATLAS_SERVICES={','.join(settings.ATLAS_SERVICES)})"
            )
        try:
            registry.check_groups(list(running))
            # A service switched from its Go service keeps the group it consumed with
            # in shadow mode, whatever the settings say (docs/shadow.md, "Switch").
            for app, (kept, configured) in switch.keep_groups().items():
                self.stderr.write(
                    f"{app}: consuming under {kept!r}, the group it was switched with, not "
                    f"{configured!r} as the settings say (KAFKA_CONSUMER_GROUP_{app.upper()})"
                )
            registry.check_groups(list(running))
        except ValueError as error:
            raise CommandError(str(error)) from None
        except DatabaseError as error:
            raise CommandError(f"cannot read the switched services' groups: {error}") from None
        stop = stop_event()
        # Before consuming: what the apps need in place first (transport: every
        # tenant's routes, so a START waiting in the topic finds its route).
        startup.run(chosen)
        self.stdout.write(f"bridging {', '.join(chosen) or 'nothing'}")
        bridge.run(chosen, stop)
        self.stdout.write("bridge stopped")
