"""``manage.py shadow_switch <service> [--upstream-group NAME]``: turn a shadow live.

Run after every replica of the Go service stopped (docs/shadow.md, "The switch").
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from project.shadow import switch


class Command(BaseCommand):
    help = "Turn a shadowed service live at upstream's committed offsets (Go service stopped)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("service")
        parser.add_argument(
            "--upstream-group",
            help="the Go service's consumer group (its KAFKA_CONSUMER_GROUP); "
            "default: upstream's name for the service",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="switch although upstream's group still has members (the broker says so)",
        )

    def handle(
        self, *args: object, service: str, upstream_group: str | None, force: bool, **options
    ) -> None:
        try:
            done = switch.switch(service, upstream_group, force=force)
        except (ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{done.app} is live. Boundary (upstream's committed offsets): "
            f"{json.dumps(done.boundary)}; held rows: {done.settled['upstream']} were "
            f"upstream's, {done.settled['published']} are published now."
        )
        if done.advanced:
            moved = ", ".join(
                f"{kind} ids past {past}" for kind, past in sorted(done.advanced.items())
            )
            self.stdout.write(
                f"Our sequences moved past the highest id upstream gave: {moved} "
                "(entities made during the shadow are known by our id from now on)"
            )
        if done.uncommitted:
            self.stdout.write(
                f"upstream's group had committed nothing on {', '.join(done.uncommitted)}: "
                "every record there counts as after the boundary"
            )
        self.stdout.write(
            f"Its consumer group stays {done.group!r}, whatever the settings say once "
            "ATLAS_SHADOW no longer names it (kept on its row); to say so in the settings "
            f"too: KAFKA_CONSUMER_GROUP_{done.app.upper()}={done.group}"
        )
