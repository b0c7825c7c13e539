"""``manage.py outbox_relay``: publish committed outbox rows to Kafka."""

from django.core.management.base import BaseCommand

from project.messaging.relay import Relay
from project.messaging.signals import stop_event


class Command(BaseCommand):
    help = "Publish outbox rows in order; one relay leads, others stand by."

    def handle(self, *args: object, **options: object) -> None:
        relay = Relay(stop_event())
        relay.run()
        self.stdout.write(f"relay stopped after publishing {relay.published} records")
