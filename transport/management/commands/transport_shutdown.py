"""Graceful shutdown of instance routes: everyone back to the start map.

State survives restarts here (upstream keeps it in Redis and runs this on every
process exit); an operator runs this when instance trips must really end.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from transport import services


class Command(BaseCommand):
    help = "End every live instance trip: cancel effects, warp to the start map (no CANCELLED)."

    def handle(self, *args, **options) -> None:
        count = services.instances_shutdown()
        self.stdout.write(f"released {count} instance(s)")
