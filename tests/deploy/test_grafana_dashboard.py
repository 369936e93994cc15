"""deploy/grafana/thunderline-reconciler.json: every query parses as PromQL and names only
series the daemon exports (read from its own metrics registry, not from a copied list);
the panels the issue asks for are there; the layout is sound."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from reconciler.telemetry.metrics import Metrics
from tests.deploy.artefacts import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "thunderline-reconciler.json"
# Exactly the names the issue fixes.
REQUIRED_METRICS = {
    "fl_clients_joined_total", "fl_rounds_started_total", "fl_rounds_completed_total",
    "fl_aggregates_total", "fl_artifacts_written_total", "fl_aggregate_duration_seconds",
    "fl_round_duration_seconds", "thunderline_reconcile_total",
    "thunderline_reconcile_duration_seconds", "thunderline_reconcile_errors_total",
    "thunderline_actions_total", "thunderline_federations", "thunderline_git_fetch_duration_seconds",
    "thunderline_git_fetch_failures_total", "thunderline_webhook_requests_total", "thunderline_leader",
}  # fmt: skip
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$tenant": ".*"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


SERIES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> dict[str, tuple[str, ...]]:
    """Series name as /metrics exposes it -> its label names, from the daemon's registry."""
    out: dict[str, tuple[str, ...]] = {}
    for collector in vars(Metrics()).values():
        for family in getattr(collector, "describe", list)():
            labels = tuple(collector._labelnames)  # what .labels() accepts
            out.update({family.name + suffix: labels for suffix in SERIES[family.type]})
    return out


def selectors(expr: str) -> list[Any]:
    import promql_parser

    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_the_daemon_exports_every_metric_the_issue_names() -> None:
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported()}

    assert bases >= REQUIRED_METRICS


@pytest.mark.parametrize("expr", exprs())
def test_every_query_parses_and_names_only_exported_series(expr: str) -> None:
    names = {s.name for s in selectors(expr)}

    assert names
    assert names <= set(exported()), names - set(exported())


def test_every_required_metric_is_on_the_dashboard() -> None:
    used = {s.name for e in exprs() for s in selectors(e)}
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}

    assert bases >= REQUIRED_METRICS, REQUIRED_METRICS - bases


def test_quantiles_are_taken_over_histogram_buckets_by_le() -> None:
    for expr in (e for e in exprs() if "histogram_quantile" in e):
        assert all(s.name.endswith("_bucket") for s in selectors(expr)), expr
        assert re.search(r"by \((le|le, tenant)\)", expr), expr


def test_label_filters_and_groupings_use_labels_the_series_carry() -> None:
    series = exported()

    for expr in exprs():
        for selector in selectors(expr):
            filtered = {m.name for m in selector.matchers.matchers}
            assert filtered <= set(series[selector.name]), expr
        for grouping in re.findall(r"by \(([^)]*)\)", expr):
            names = {n.strip() for n in grouping.split(",")} - {"le"}
            carried = set().union(*(series[s.name] for s in selectors(expr)))
            assert names <= carried, expr


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Rounds over time", "fl_rounds_completed_total"),
        ("Round duration p50 / p95", "fl_round_duration_seconds_bucket"),
        ("Aggregate duration p50 / p95", "fl_aggregate_duration_seconds_bucket"),
        ("Federations by phase", "thunderline_federations"),
        ("Reconcile errors by step", "thunderline_reconcile_errors_total"),
    ],
)
def test_the_panels_the_issue_asks_for_exist(title: str, metric: str) -> None:
    panel = next(p for p in panels() if p["title"] == title)

    assert metric in {s.name for t in panel["targets"] for s in selectors(t["expr"])}
    if "p50 / p95" in title:
        assert [t["expr"].split(",")[0] for t in panel["targets"]] == [
            "histogram_quantile(0.5",
            "histogram_quantile(0.95",
        ]


def test_variables_used_are_defined_and_the_grid_is_sound() -> None:
    d = dashboard()
    defined = {v["name"] for v in d["templating"]["list"]}
    text = DASHBOARD.read_text()
    used = set(re.findall(r"\$\{?(\w+)", text)) - {"__rate_interval", "__interval"}
    ids = [p["id"] for p in d["panels"]]
    cells: set[tuple[int, int]] = set()

    assert used <= defined
    assert len(ids) == len(set(ids))
    assert d["uid"] == "thunderline-reconciler"
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
