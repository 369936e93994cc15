"""The prune guard: one revision deleting most of the fleet stops none of it until confirmed.

Table-driven over the two thresholds (more than `prune_max_count` AND more than
`prune_max_share` of the active federations): below either, deleted files stop their
federations as before; above both, every such stop is held back (`prune-blocked`).
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import DesiredState, FederationKey, Phase, RecordedFederation
from reconciler.plan import ActionKind, PlanOptions, plan, simulate
from reconciler.plan.render import to_json, to_markdown, to_text
from tests.plan.builders import record, spec
from tests.plan.test_planner_properties import worlds


def fleet(
    active: int, deleted: int, *, terminal: int = 0
) -> tuple[DesiredState, dict[FederationKey, RecordedFederation]]:
    """`active` running federations of which the files of the first `deleted` are gone,
    plus `terminal` finished ones whose files are gone too."""
    specs = [spec(f"fed-{i:03d}") for i in range(active + terminal)]
    recorded = {
        s.key: record(s, Phase.RUNNING if i < active else Phase.COMPLETED)
        for i, s in enumerate(specs)
    }
    kept = {s.key: s for i, s in enumerate(specs) if deleted <= i < active}
    return DesiredState(specs=kept, revision="r2"), recorded


def kinds(result_actions: tuple) -> dict[ActionKind, int]:  # type: ignore[type-arg]
    out: dict[ActionKind, int] = {}
    for action in result_actions:
        out[action.kind] = out.get(action.kind, 0) + 1
    return out


PRUNE = PlanOptions(prune=True)


@pytest.mark.parametrize(
    ("active", "deleted", "blocked"),
    [
        (20, 10, False),  # at the count (10 is not more than 10)
        (20, 11, True),  # above both: 11 > 10 and 11 > 20 / 2
        (100, 11, False),  # above the count, below the share (11 of 100)
        (100, 50, False),  # at the share (50 is not more than half of 100)
        (100, 51, True),
        (11, 11, True),  # the whole fleet
        (10, 10, False),  # a small fleet can be emptied: 10 is not more than 10
        (1, 1, False),
    ],
)
def test_the_guard_holds_only_above_both_thresholds(
    active: int, deleted: int, blocked: bool
) -> None:
    desired, recorded = fleet(active, deleted)

    result = plan(desired, recorded, None, PRUNE)

    if blocked:
        assert kinds(result.actions) == {ActionKind.PRUNE_BLOCKED: deleted}
        assert result.prune_blocked == deleted and not result.has_changes
    else:
        assert kinds(result.actions) == {ActionKind.STOP: deleted}
        assert result.prune_blocked == 0


@pytest.mark.parametrize(
    ("options", "active", "deleted", "blocked"),
    [
        (PlanOptions(prune=True, prune_max_count=0), 4, 3, True),
        (PlanOptions(prune=True, prune_max_count=0), 4, 2, False),  # not more than half
        (PlanOptions(prune=True, prune_max_count=0, prune_max_share=0.0), 40, 1, True),
        (PlanOptions(prune=True, prune_max_count=100), 200, 150, True),
        (PlanOptions(prune=True, prune_max_count=200), 200, 150, False),
        (PlanOptions(prune=True, prune_max_share=0.9), 20, 18, False),
        (PlanOptions(prune=True, prune_max_share=0.9), 20, 19, True),
        (PlanOptions(prune=True, prune_max_share=1.0), 30, 30, False),  # the guard is off
    ],
)
def test_both_thresholds_are_configurable(
    options: PlanOptions, active: int, deleted: int, blocked: bool
) -> None:
    desired, recorded = fleet(active, deleted)

    result = plan(desired, recorded, None, options)

    assert result.prune_blocked == (deleted if blocked else 0)
    assert kinds(result.actions) == {
        ActionKind.PRUNE_BLOCKED if blocked else ActionKind.STOP: deleted
    }


def test_only_active_federations_count_toward_the_share() -> None:
    """Finished federations need nothing when their file goes, and do not dilute the share."""
    desired, recorded = fleet(20, 11, terminal=1000)

    result = plan(desired, recorded, None, PRUNE)

    assert kinds(result.actions) == {ActionKind.PRUNE_BLOCKED: 11}
    assert "stop 11 of 20 active federations" in result.actions[0].reason


def test_a_confirmed_deletion_is_carried_out() -> None:
    desired, recorded = fleet(30, 30)

    result = plan(desired, recorded, None, PRUNE, prune_confirmed=True)

    assert kinds(result.actions) == {ActionKind.STOP: 30}


def test_without_pruning_deleted_files_are_orphans_as_before() -> None:
    desired, recorded = fleet(30, 30)

    result = plan(desired, recorded, None, PlanOptions())

    assert kinds(result.actions) == {ActionKind.ORPHAN: 30}


def test_explicit_stops_are_never_held_nor_counted() -> None:
    """`stop: true` is a deliberate request about one file: not a deletion."""
    desired, recorded = fleet(30, 0)
    specs = dict(desired.specs)
    for key in list(specs)[:20]:
        specs[key] = spec(key.name, stop=True)
    stops_asked = DesiredState(specs=specs)
    deleted_two = dict(list(specs.items())[:28])

    assert kinds(plan(stops_asked, recorded, None, PRUNE).actions) == {ActionKind.STOP: 20}
    both = plan(DesiredState(specs=deleted_two), recorded, None, PRUNE)
    assert kinds(both.actions) == {ActionKind.STOP: 22}  # 2 deletions: under the count


def test_other_actions_go_ahead_while_the_deletion_is_held() -> None:
    desired, recorded = fleet(20, 15)
    new = spec("brand-new")
    changed = spec("fed-019", rounds__total=9)
    specs = {**desired.specs, new.key: new, changed.key: changed}

    result = plan(DesiredState(specs=specs), recorded, None, PRUNE)

    assert kinds(result.actions) == {
        ActionKind.PRUNE_BLOCKED: 15,
        ActionKind.START: 1,
        ActionKind.UPDATE: 1,
    }
    assert result.has_changes and result.exit_code == 1


def test_held_stops_stay_held_when_new_federations_dilute_the_share() -> None:
    """Moving 15 of 20 specs to another tenant folder: the 15 new ones start at once, and
    would make the 15 stops 'only' 15 of 35 a cycle later. Held stops stay held."""
    desired, recorded = fleet(20, 15)
    moved = [spec(f"fed-{i:03d}", tenant="globex") for i in range(15)]
    desired = DesiredState(specs={**desired.specs, **{s.key: s for s in moved}})
    first = plan(desired, recorded, None, PRUNE)
    held = {a.key for a in first.actions if a.kind is ActionKind.PRUNE_BLOCKED}
    started = {s.key: record(s, Phase.STARTING) for s in moved}

    unheld = plan(desired, {**recorded, **started}, None, PRUNE)
    again = plan(desired, {**recorded, **started}, None, PRUNE, prune_held=held)

    assert len(held) == 15
    assert kinds(unheld.actions) == {ActionKind.STOP: 15}  # what the guard must not allow
    assert kinds(again.actions) == {ActionKind.PRUNE_BLOCKED: 15}
    assert "mass deletion" in again.actions[0].reason
    confirmed = plan(
        desired, started | recorded, None, PRUNE, prune_held=held, prune_confirmed=True
    )
    assert kinds(confirmed.actions) == {ActionKind.STOP: 15}


def test_a_held_stop_whose_file_came_back_is_let_go() -> None:
    _, recorded = fleet(20, 15)
    held = frozenset(list(recorded)[:15])
    restored = DesiredState(specs={k: spec(k.name) for k in list(recorded)[:14]})

    result = plan(restored, recorded, None, PRUNE, prune_held=held)

    # 14 files back; the 15th and the 5 never held: 6 stops, under the count.
    assert kinds(result.actions) == {ActionKind.PRUNE_BLOCKED: 1, ActionKind.STOP: 5}


def test_the_plan_says_what_is_held_and_how_to_confirm() -> None:
    desired, recorded = fleet(12, 12)

    result = plan(desired, recorded, None, PRUNE)
    text, markdown, data = to_text(result), to_markdown(result), to_json(result)

    assert "(-) acme/fed-000" in text
    assert "12 stops held by the prune guard" in text
    assert "Thunderline-Prune: confirm" in text and "--prune-confirm" in text
    assert "prune-blocked" in markdown
    assert '"prune-blocked": 12' in data
    assert result.exit_code == 1  # changes asked for, waiting for a person


def test_a_plan_without_deletions_reads_as_before() -> None:
    desired, recorded = fleet(5, 0)

    assert "prune guard" not in to_text(plan(desired, recorded, None, PRUNE))


@pytest.mark.parametrize(
    "bad", [{"prune_max_count": -1}, {"prune_max_share": 1.5}, {"prune_max_share": -0.1}]
)
def test_thresholds_out_of_range_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PlanOptions(prune=True, **bad)  # type: ignore[arg-type]


def test_the_guard_costs_nothing_measurable_at_10000_federations() -> None:
    desired, recorded = fleet(10_000, 10_000)
    began = time.perf_counter()
    result = plan(desired, recorded, None, PRUNE)
    elapsed = time.perf_counter() - began

    assert result.prune_blocked == 10_000
    assert elapsed < 2.0  # the whole plan; the guard is one pass over the actions


@settings(max_examples=300, deadline=None)
@given(worlds(), st.integers(0, 3), st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_a_held_deletion_converges_too(
    world: tuple[DesiredState, dict, PlanOptions],  # type: ignore[type-arg]
    count: int,
    share: float,
) -> None:
    """Plan, carry it out, plan again with what was held: nothing left to do."""
    desired, recorded, _ = world
    options = PlanOptions(prune=True, prune_max_count=count, prune_max_share=share)
    first = plan(desired, recorded, None, options)
    held = {a.key for a in first.actions if a.kind is ActionKind.PRUNE_BLOCKED}
    second = plan(desired, simulate(recorded, first), None, options, prune_held=held)
    assert not second.has_changes, second.actions
    assert {a.key for a in second.actions if a.kind is ActionKind.PRUNE_BLOCKED} == held


def test_the_daemon_flags_reach_the_planner_and_the_source() -> None:
    from reconciler.cli import build_parser
    from reconciler.cli.run import settings_from

    argv = ["run", "--repo", ".", "--prune", "--prune-max-count", "3"]
    args = build_parser().parse_args([*argv, "--prune-max-share", "0.2", "--prune-confirm", "abc"])
    settings = settings_from(args)
    defaults = settings_from(build_parser().parse_args(["run", "--repo", "."]))

    assert (settings.plan.prune_max_count, settings.plan.prune_max_share) == (3, 0.2)
    assert settings.source.prune_confirm == "abc"
    assert (defaults.plan.prune_max_count, defaults.plan.prune_max_share) == (10, 0.5)
    assert defaults.source.prune_confirm is None


def test_a_share_out_of_range_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    code = main(["run", "--repo", ".", "--prune", "--prune-max-share", "2"])

    assert code == 2
    assert capsys.readouterr().err == (
        "reconciler run: prune_max_share must be within 0..1, not 2.0\n"
    )
