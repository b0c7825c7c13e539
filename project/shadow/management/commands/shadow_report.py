"""``manage.py shadow_report --since 1h [--json]``: what shadow mode found.

Exits 1 when unexpected differences exist (different, missing_upstream,
missing_here), so an operator's script can gate the switch on it.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from project.shadow import report


def duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``2d`` (a bare number is seconds)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        raise CommandError(f"--since {text!r}: give a duration such as 90s, 15m, 1h or 2d")
    number, unit = float(match[1]), match[2] or "s"
    return timedelta(seconds=number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


class Command(BaseCommand):
    help = "Summarise the shadow comparison; exit 1 when unexpected differences exist."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", default="1h", help="how far back (90s, 15m, 1h, 2d)")
        parser.add_argument("--json", action="store_true", help="one JSON object of counts")
        parser.add_argument("--service", action="append", help="only this service (repeatable)")

    def handle(self, *args: object, since: str, json: bool, service, **options) -> None:
        summary = report.summary(timezone.now() - duration(since), services=service)
        if json:
            self.stdout.write(_json(summary))
        else:
            self.stdout.write(report.text(summary))
        if summary.unexpected:
            raise SystemExit(1)


def _json(summary: report.Summary) -> str:
    return json.dumps({**summary.counts, "no_baseline": summary.no_baseline, "by": summary.by})
