"""deploy/grafana/atlas-social.json: a valid Grafana dashboard whose every PromQL
query names only metrics this project exports."""

from __future__ import annotations

import json
import re

import pytest

from project.observability import metrics, state
from tests.stack import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "atlas-social.json"
FUNCTIONS_AND_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan",
}  # fmt: skip
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(document: dict) -> list[dict]:
    found = []
    for panel in document["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return found


def queries(document: dict) -> list[str]:
    exprs = [t["expr"] for p in panels(document) for t in p.get("targets", [])]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["definition"])
    return exprs


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not a
    function call, a keyword, a label name (inside ``{}`` or ``by (…)``), a string or
    a duration."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)", r"\1", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        name, call = match.groups()
        if call or name in FUNCTIONS_AND_KEYWORDS:
            continue
        names.add(name)
    return names


@pytest.mark.django_db
def test_exported_names_come_from_the_running_code():
    assert "atlas_records_handled_total" in exported()


def exported() -> set[str]:
    """Every sample name /api/metrics serves: its exposition's ``# TYPE`` lines (the
    process's instruments and the scrape-time gauges, with no value yet or not)."""
    text = metrics.exposition(state.DatabaseState(), state.KafkaState()).decode()
    names = set()
    for name, kind in re.findall(r"(?m)^# TYPE (\S+) (\S+)$", text):
        if kind == "counter":  # prometheus-client names the family with or without _total
            name = name.removesuffix("_total")
        names.update(name + suffix for suffix in SAMPLE_SUFFIXES.get(kind, ("",)))
    return names


def test_the_dashboard_is_valid_dashboard_json():
    document = dashboard()
    for key, kind in {
        "title": str, "uid": str, "panels": list, "schemaVersion": int,
        "templating": dict, "time": dict,
    }.items():  # fmt: skip
        assert isinstance(document[key], kind), key
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", document["uid"])
    ids = [panel["id"] for panel in panels(document)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    variables = {v["name"] for v in document["templating"]["list"]}
    for panel in panels(document):
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"} and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["type"] in {"row", "timeseries", "stat"}, panel["type"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            for opening, closing in ("()", "[]", "{}"):
                assert expr.count(opening) == expr.count(closing), expr
            for used in re.findall(r"\$(\w+)", expr):
                assert used in variables | {"__rate_interval", "__interval", "__range"}, used
    # Panels do not overlap.
    cells = set()
    for panel in panels(document):
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))


@pytest.mark.django_db
def test_every_query_names_only_exported_metrics():
    names = exported()
    used = set()
    for expr in queries(dashboard()):
        found = metric_names(expr)
        assert found, f"no metric in {expr!r}"
        assert found <= names, f"{expr!r} names {sorted(found - names)}, not exported"
        used |= found
    # What the dashboard is for: each of these is shown.
    for name in (
        "atlas_records_handled_total", "atlas_records_dead_total", "atlas_consumer_lag",
        "atlas_inbox_backlog", "atlas_outbox_backlog", "atlas_outbox_parked",
        "atlas_inbox_dead", "atlas_handler_seconds_bucket", "atlas_lookup_seconds_bucket",
    ):  # fmt: skip
        assert name in used, name


def test_the_name_parser_reads_promql():
    assert metric_names(
        'histogram_quantile(0.99, sum by (le, app) (rate(x_bucket{app=~"$app"}[5m])))'
    ) == {"x_bucket"}
    assert metric_names("sum(a) / sum without (topic) (b_total) or vector(0)") == {"a", "b_total"}
    assert metric_names("label_values(c_total, app)") == {"c_total"}
