"""The shadow comparison summed up, for ``shadow_report`` and the admin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count

from project.shadow.models import Result

COUNTED = ("matched", "different", "expected", "missing_upstream", "missing_here")


@dataclass
class Summary:
    since: datetime
    counts: dict[str, int]
    no_baseline: int
    by: list[dict] = field(default_factory=list)
    differences: list[Result] = field(default_factory=list)

    @property
    def unexpected(self) -> int:
        return sum(self.counts[k] for k in ("different", "missing_upstream", "missing_here"))


def summary(since: datetime, services: list[str] | None = None) -> Summary:
    results = Result.objects.filter(decided_at__gte=since)
    if services:
        results = results.filter(service__in=services)
    grouped = list(
        results.values("service", "topic", "message_type", "klass", "rule")
        .annotate(n=Count("id"))
        .order_by("service", "topic", "message_type", "klass", "rule")
    )
    counts = dict.fromkeys(COUNTED, 0)
    no_baseline = 0
    for row in grouped:
        if row["klass"] in counts:
            counts[row["klass"]] += row["n"]
        else:
            no_baseline += row["n"]
    by = [
        {
            "service": row["service"],
            "topic": row["topic"],
            "type": row["message_type"],
            "class": row["klass"],
            **({"rule": row["rule"]} if row["rule"] else {}),
            "count": row["n"],
        }
        for row in grouped
    ]
    differences = list(results.filter(klass__in=Result.UNEXPECTED).order_by("-decided_at")[:20])
    return Summary(since, counts, no_baseline, by, differences)


def text(summary: Summary) -> str:
    lines = [
        f"shadow comparison since {summary.since:%Y-%m-%d %H:%M:%S} UTC: "
        + ", ".join(f"{summary.counts[k]} {k}" for k in COUNTED)
        + f" ({summary.no_baseline} without a baseline, not counted)"
    ]
    for row in summary.by:
        rule = f" [{row['rule']}]" if "rule" in row else ""
        lines.append(
            f"  {row['service']:<10} {row['topic']:<36} {row['type']:<18} "
            f"{row['class']:<16} {row['count']:>6}{rule}"
        )
    if summary.differences:
        lines.append("latest unexpected differences:")
        for result in summary.differences:
            detail = "; ".join(
                f"{d['path']}: ours {d['ours']!r}, upstream {d['upstream']!r}"
                for d in result.diff[:5]
            )
            lines.append(
                f"  #{result.id} {result.service} {result.topic} {result.message_type} "
                f"{result.klass}{': ' + detail if detail else ''}"
            )
    lines.append(
        "unexpected differences exist" if summary.unexpected else "no unexpected differences"
    )
    return "\n".join(lines)
