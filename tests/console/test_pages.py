"""The console's page models and charts: pure functions over store records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.console import pages
from reconciler.console.access import Access, is_loopback
from reconciler.console.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, line_chart
from reconciler.model import FederationKey, Phase, RecordedFederation, SpecProblem
from reconciler.plan import Action, ActionKind, FieldChange, Plan
from reconciler.store import Event, RoundRecord, RunRecord
from reconciler.store.views import GenerationRecord, ListPage, ListQuery, ListRow

KEY = FederationKey("acme", "digits")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rnd(gen: int, number: int, status: str = "completed", **metrics: Any) -> RoundRecord:
    return RoundRecord(KEY, gen, number, status, metrics, T0, T0)


def test_headline_prefers_accuracy_then_loss_then_the_first_number_by_name() -> None:
    assert pages.headline({"loss": 0.3, "accuracy": 0.9}) == ("accuracy", 0.9)
    assert pages.headline({"loss": 0.3, "zeta": 1}) == ("loss", 0.3)
    assert pages.headline({"zeta": 2, "beta": 1, "note": "x"}) == ("beta", 1.0)
    assert pages.headline({"note": "text", "flag": True, "nan": float("nan")}) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (7200, "2h"), (3 * 86400, "3d")]
)
def test_age_in_the_largest_whole_unit(seconds: int, text: str) -> None:
    assert pages.age(T0, T0 + timedelta(seconds=seconds)) == text


def test_progress_is_bounded_and_safe_without_a_total() -> None:
    assert pages.progress_percent(2, 3) == 67
    assert pages.progress_percent(5, 3) == 100
    assert pages.progress_percent(1, 0) == 0


def test_a_list_page_counts_its_rows_and_pages() -> None:
    row = ListRow(KEY, Phase.RUNNING, "", 1, 2, 4, {"team": "x"}, {"accuracy": 0.81}, T0, T0)
    page = ListPage([row] * 3, total=53, query=ListQuery(page=2, per_page=25))
    model = pages.list_model(page, T0 + timedelta(hours=5))
    assert (model.pages, model.first, model.last, model.total) == (3, 26, 28, 53)
    shown = model.rows[0]
    assert (shown.percent, shown.metric, shown.age) == (50, "accuracy 0.81", "5h")
    assert shown.labels == (("team", "x"),)
    assert shown.href == "/federations/acme/digits"


def test_hrefs_quote_what_a_spec_names() -> None:
    href = pages.federation_href(FederationKey("a/b", "<x>"))
    assert href == "/federations/a%2Fb/%3Cx%3E"


def test_sensitive_fields_are_masked_in_the_spec_and_its_diff() -> None:
    before = {"spec": {"telemetry": {"otlp": {"headers": {"authorization": "Bearer s3cr3t"}}}}}
    after = {"spec": {"telemetry": {"otlp": {"headers": {"authorization": "Bearer n3w"}}}}}
    text = pages.spec_yaml(after) + pages.spec_diff(before, after)
    assert "s3cr3t" not in text and "n3w" not in text
    assert "(sensitive value)" in text


def test_the_diff_shows_the_changed_field_against_the_previous_generation() -> None:
    before = {"spec": {"rounds": {"total": 3}, "paused": False}}
    after = {"spec": {"rounds": {"total": 5}, "paused": False}}
    diff = pages.spec_diff(before, after)
    assert "-    total: 3" in diff and "+    total: 5" in diff
    assert pages.spec_diff(None, after) == ""


@pytest.mark.parametrize(
    ("repo", "url"),
    [
        (
            "https://user:token@github.com/acme/specs.git",
            "https://github.com/acme/specs/blob/abc123/specs/acme/d.yaml",
        ),
        (
            "https://gitlab.example.com/acme/specs",
            "https://gitlab.example.com/acme/specs/-/blob/abc123/specs/acme/d.yaml",
        ),
        ("/srv/git/specs", None),
        ("git@github.com:acme/specs.git", None),
    ],
)
def test_spec_links_go_to_web_hosts_and_never_carry_credentials(repo: str, url: str | None) -> None:
    assert pages.git_file_url(repo, "abc123", "specs/acme/d.yaml") == url


def _event(i: int, kind: str, gen: int, **payload: Any) -> Event:
    return Event(i, kind, KEY, gen, {"generation": gen, **payload}, T0)


def _run(gen: int, attempt: int, run_id: int) -> RunRecord:
    return RunRecord(KEY, run_id, gen, attempt, "finished:completed", "", "", T0, T0)


def test_lineage_tells_starts_resumes_recoveries_updates_and_replacements() -> None:
    docs = [GenerationRecord(g, "p.yaml", {}, f"d{g}", T0) for g in (1, 2, 3)]
    runs = [_run(1, 1, 11), _run(1, 2, 12), _run(1, 3, 13), _run(3, 1, 31)]
    events = [
        _event(1, "fl.federation.started", 1, attempt=1),
        _event(2, "fl.federation.resumed", 1, attempt=2),
        _event(3, "fl.federation.started", 1, attempt=3),
        _event(4, "fl.federation.updated", 2),
        _event(5, "fl.federation.created", 3),
    ]
    gens = pages.lineage(docs, runs, events)
    assert [(g.number, g.how) for g in gens] == [
        (1, "created"),
        (2, "updated in place"),
        (3, "replaced"),
    ]
    assert [(a.number, a.how, a.run_id) for a in gens[0].attempts] == [
        (1, "start", 11),
        (2, "resume", 12),
        (3, "recovery", 13),
    ]
    assert [a.how for a in gens[2].attempts] == ["start"]


def test_metric_charts_have_one_point_per_completed_round_of_the_current_line() -> None:
    rounds = [
        rnd(1, 1, accuracy=0.1, loss=2.0),
        rnd(1, 2, accuracy=0.2, loss=1.5),
        rnd(2, 1, accuracy=0.5, loss=1.0),  # a replacement: a new line from round 1
        rnd(2, 2, accuracy=0.6, loss=0.8),
        rnd(2, 3, "started"),
    ]
    charts = pages.metric_charts(rounds)
    assert [c.title for c in charts] == ["accuracy", "loss"]
    (series,) = charts[0].series
    assert [(p.round, p.value) for p in series.points] == [(1, 0.5), (2, 0.6)]


def test_compare_draws_one_series_per_federation_on_each_metric() -> None:
    other = FederationKey("acme", "prox")
    curves = {
        KEY: [rnd(1, 1, accuracy=0.5), rnd(1, 2, accuracy=0.7)],
        other: [RoundRecord(other, 1, 1, "completed", {"accuracy": 0.6}, T0, T0)],
    }
    (chart,) = pages.compare_charts(curves)
    assert [s.name for s in chart.series] == ["acme/digits", "acme/prox"]
    assert [len(s.points) for s in chart.series] == [2, 1]
    assert chart.series[0].colour != chart.series[1].colour


def test_chart_points_stay_inside_the_plot_area_and_rise_with_the_value() -> None:
    chart = line_chart("acc", [("a", [(1, 0.2), (2, 0.9), (3, 0.5)])])
    points = chart.series[0].points
    for p in points:
        assert LEFT <= p.x <= WIDTH - RIGHT and TOP <= p.y <= HEIGHT - BOTTOM
    assert points[1].y < points[2].y < points[0].y  # SVG y grows downwards
    assert chart.series[0].path.count(",") == 3
    assert chart.y_ticks and chart.x_ticks


def test_a_chart_of_one_flat_value_still_has_room() -> None:
    chart = line_chart("loss", [("a", [(1, 0.0)])])
    (p,) = chart.series[0].points
    assert TOP < p.y < HEIGHT - BOTTOM


def test_the_plan_model_keeps_file_line_col_problems() -> None:
    problem = SpecProblem("specs/acme/bad.yaml", 4, 7, "spec.rounds.total", "must be >= 1")
    plan = Plan(
        actions=(
            Action(ActionKind.INVALID, KEY, "spec invalid", problems=(problem,)),
            Action(
                ActionKind.UPDATE,
                FederationKey("acme", "b"),
                "spec changed",
                changes=(FieldChange("spec.rounds.total", 3, 5, False),),
            ),
        ),
        revision="abc",
        unclaimed_problems=(SpecProblem("specs/x.yaml", 1, 1, "", "not YAML"),),
    )
    model = pages.plan_model(plan)
    assert model.actions[0].lines == ("specs/acme/bad.yaml:4:7: spec.rounds.total: must be >= 1",)
    assert model.actions[1].lines == ("spec.rounds.total: 3 -> 5",)
    assert model.invalid_files == ("specs/x.yaml:1:1: (file): not YAML",)


def test_changes_to_commit_name_the_line_never_a_button() -> None:
    assert [c.line for c in pages.changes_to_commit(Phase.RUNNING)] == [
        "paused: true",
        "stop: true",
    ]
    assert [c.line for c in pages.changes_to_commit(Phase.PAUSED)] == [
        "paused: false",
        "stop: true",
    ]
    assert pages.changes_to_commit(Phase.COMPLETED) == ()


def test_detail_diffs_against_the_previous_generation_and_orders_newest_first() -> None:
    record = RecordedFederation(
        KEY, "specs/acme/digits.yaml", {"spec": {"seed": 2}}, "d2", 2, 2, Phase.RUNNING
    )
    docs = [
        GenerationRecord(1, record.path, {"spec": {"seed": 1}}, "d1", T0),
        GenerationRecord(2, record.path, {"spec": {"seed": 2}}, "d2", T0),
    ]
    d = pages.detail(
        record,
        rounds=[rnd(2, 1, accuracy=0.1), rnd(2, 2, accuracy=0.2)],
        events=[_event(1, "fl.federation.created", 1), _event(2, "fl.federation.created", 2)],
        generations=docs,
        runs=[],
        artifacts=[],
        revision="abc",
        repo_url="https://github.com/acme/specs",
    )
    assert "-  seed: 1" in d.diff and "+  seed: 2" in d.diff
    assert [r.number for r in d.rounds] == [2, 1]
    assert [e.id for e in d.events] == [2, 1]
    assert d.spec_url == "https://github.com/acme/specs/blob/abc/specs/acme/digits.yaml"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_access_off_loopback_takes_the_bearer_or_the_cookie_and_nothing_else() -> None:
    access = Access.for_host("0.0.0.0", "tok-123")
    assert access.allows({"authorization": "Bearer tok-123"}, {})
    assert access.allows({}, {"thunderline_console": "tok-123"})
    assert not access.allows({"authorization": "Bearer tok-124"}, {})
    assert not access.allows({"authorization": "Basic tok-123"}, {})
    assert not access.allows({}, {})
    closed = Access.for_host("0.0.0.0", None)
    assert not closed.allows({"authorization": "Bearer "}, {"thunderline_console": ""})
    assert Access.for_host("127.0.0.1", None).allows({}, {})
