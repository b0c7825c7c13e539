"""``manage.py outbox_relay``: publish committed outbox rows to Kafka."""

import threading

from django.core.management.base import BaseCommand

from project.messaging.relay import Relay
from project.messaging.signals import stop_event

# After SIGTERM the relay has this long to finish its batch; a send blocked on an
# unreachable broker is then abandoned (its rows are not marked sent: published
# again by the next leader, at least once).
STOP_GRACE_SECONDS = 5


class Command(BaseCommand):
    help = "Publish outbox rows in order; one relay leads, others stand by."

    def handle(self, *args: object, **options: object) -> None:
        stop = stop_event()
        relay = Relay(stop)
        # The relay runs in a thread so that a signal is acted on at once, even while
        # kafka-python blocks in a send or a flush.
        worker = threading.Thread(target=relay.run, name="relay", daemon=True)
        worker.start()
        while worker.is_alive() and not stop.is_set():
            stop.wait(0.5)
        worker.join(STOP_GRACE_SECONDS)
        self.stdout.write(f"relay stopped after publishing {relay.published} records")
