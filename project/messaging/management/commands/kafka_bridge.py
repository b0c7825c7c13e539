"""``manage.py kafka_bridge [--apps invites,parties]``: Kafka → inbox → Celery."""

import faulthandler
import signal

from django.core.management.base import BaseCommand, CommandParser

from project.messaging import bridge, registry
from project.messaging.signals import stop_event


class Command(BaseCommand):
    help = "Consume the apps' Kafka topics into the inbox and enqueue their handling."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--apps",
            default="",
            help="comma-separated apps to bridge (default: every app with subscriptions)",
        )

    def handle(self, *args: object, apps: str, **options: object) -> None:
        # SIGUSR1 prints every thread's stack: where a consumer thread waits, live.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        chosen = [a.strip() for a in apps.split(",") if a.strip()]
        if not chosen:
            chosen = [name for name, c in registry.consumers().items() if c.subscriptions]
        stop = stop_event()
        self.stdout.write(f"bridging {', '.join(chosen) or 'nothing'}")
        bridge.run(chosen, stop)
        self.stdout.write("bridge stopped")
