"""Table-driven: for every action and phase, what the planner decides and why."""

from __future__ import annotations

import pytest

from reconciler.model import (
    DesiredState,
    FederationKey,
    FederationSpec,
    Phase,
    RecordedFederation,
    RunObservation,
    SpecProblem,
)
from reconciler.plan import ActionKind, PlanOptions, plan
from tests.plan.builders import record, spec

KEY = FederationKey("acme", "digits")
ACTIVE = (Phase.PENDING, Phase.STARTING, Phase.RUNNING)
TERMINAL = (Phase.COMPLETED, Phase.FAILED, Phase.STOPPED)


def decide(
    desired: FederationSpec | None,
    recorded: RecordedFederation | None,
    *,
    run: RunObservation | None = None,
    runtime_known: bool = False,
    problems: tuple[SpecProblem, ...] = (),
    prune: bool = False,
) -> ActionKind | None:
    """Prepare one federation's inputs, execute the planner, return the single action kind."""
    files = {p.file: (p,) for p in problems}
    state = DesiredState(
        specs={desired.key: desired} if desired else {},
        problems=files,
        claimed=dict.fromkeys(files, KEY),
    )
    observed = ({KEY: run} if run else {}) if runtime_known else None
    result = plan(state, {KEY: recorded} if recorded else {}, observed, PlanOptions(prune=prune))
    assert len(result.actions) <= 1
    return result.actions[0].kind if result.actions else None


def test_new_spec_starts() -> None:
    assert decide(spec(), None) is ActionKind.START


def test_new_paused_spec_is_created_paused() -> None:
    assert decide(spec(paused=True), None) is ActionKind.PAUSE


def test_new_spec_asking_to_stop_does_nothing() -> None:
    assert decide(spec(stop=True), None) is None


def at_rest(phase: Phase, **changes: object) -> FederationSpec:
    """A spec that agrees with `phase` about pausing (a Paused federation's spec says paused)."""
    return spec(**changes, paused=True) if phase is Phase.PAUSED else spec(**changes)


@pytest.mark.parametrize("phase", [p for p in Phase if p is not Phase.PENDING])
def test_unchanged_spec_needs_nothing_when_runtime_unknown(phase: Phase) -> None:
    s = at_rest(phase)
    assert decide(s, record(s, phase)) is None


@pytest.mark.parametrize("phase", [Phase.STARTING, Phase.RUNNING])
def test_running_spec_can_be_paused(phase: Phase) -> None:
    assert decide(spec(paused=True), record(spec(), phase)) is ActionKind.PAUSE


def test_pending_spec_can_be_paused() -> None:
    assert decide(spec(paused=True), record(spec(), Phase.PENDING)) is ActionKind.PAUSE


def test_paused_spec_resumes_when_flag_removed() -> None:
    assert decide(spec(), record(spec(paused=True), Phase.PAUSED)) is ActionKind.RESUME


def test_paused_federation_with_paused_spec_stays() -> None:
    s = spec(paused=True)
    assert decide(s, record(s, Phase.PAUSED), runtime_known=True) is None


@pytest.mark.parametrize("phase", [*ACTIVE, Phase.PAUSED])
def test_stop_requested_stops_any_live_phase(phase: Phase) -> None:
    assert decide(spec(stop=True), record(spec(), phase)) is ActionKind.STOP


@pytest.mark.parametrize("phase", TERMINAL)
def test_stop_requested_on_finished_federation_records_spec_only(phase: Phase) -> None:
    assert decide(spec(stop=True), record(spec(), phase)) is ActionKind.UPDATE


@pytest.mark.parametrize("phase", [Phase.STARTING, Phase.RUNNING, Phase.PAUSED])
def test_more_rounds_is_an_update_in_place(phase: Phase) -> None:
    before = at_rest(phase)
    assert decide(at_rest(phase, rounds__total=10), record(before, phase)) is ActionKind.UPDATE


def test_unpausing_with_more_rounds_resumes_with_the_change() -> None:
    desired = spec(rounds__total=10)
    result = plan(
        DesiredState(specs={KEY: desired}), {KEY: record(spec(paused=True), Phase.PAUSED)}
    )
    (action,) = result.actions
    assert action.kind is ActionKind.RESUME
    assert [c.path for c in action.changes] == ["spec.paused", "spec.rounds.total"]


@pytest.mark.parametrize(
    "change",
    [
        {"modelRef": {"uri": "models/other.npz", "sha256": "b" * 64, "format": "npz"}},
        {"strategy": {"name": "fedprox", "params": {"proxMu": 0.1}}},
        {"datasetSpec": {"schema": "npz", "shards": [{"uri": "data/s9.npz"}]}},
        {"seed": 3},
        {"privacy": {"dp": {"enabled": True, "epsilon": 1.0, "delta": 1e-5}}},
    ],
)
@pytest.mark.parametrize("phase", [Phase.STARTING, Phase.RUNNING, Phase.PAUSED])
def test_changes_to_what_is_trained_force_replacement(phase: Phase, change: dict) -> None:
    ((field, value),) = change.items()
    assert decide(spec(**{field: value}), record(spec(), phase)) is ActionKind.REPLACE


@pytest.mark.parametrize("phase", TERMINAL)
def test_any_change_after_the_end_starts_a_new_generation(phase: Phase) -> None:
    assert decide(spec(rounds__total=9), record(spec(), phase)) is ActionKind.REPLACE


def test_replacement_wins_over_pause_toggle() -> None:
    desired = spec(paused=True, seed=5)
    assert decide(desired, record(spec(), Phase.RUNNING)) is ActionKind.REPLACE


@pytest.mark.parametrize("phase", [*ACTIVE, Phase.PAUSED])
def test_deleted_file_with_pruning_stops(phase: Phase) -> None:
    assert decide(None, record(spec(), phase), prune=True) is ActionKind.STOP


@pytest.mark.parametrize("phase", [*ACTIVE, Phase.PAUSED])
def test_deleted_file_without_pruning_is_orphaned(phase: Phase) -> None:
    assert decide(None, record(spec(), phase)) is ActionKind.ORPHAN


@pytest.mark.parametrize("phase", TERMINAL)
def test_deleted_file_of_finished_federation_needs_nothing(phase: Phase) -> None:
    assert decide(None, record(spec(), phase), prune=True) is None


@pytest.mark.parametrize("phase", list(Phase))
def test_invalid_spec_never_stops_a_federation(phase: Phase) -> None:
    problem = SpecProblem("specs/acme/digits.yaml", 7, 3, "spec.rounds.total", "must be >= 1")
    kind = decide(None, record(spec(), phase), problems=(problem,), prune=True)
    assert kind is ActionKind.INVALID


def test_invalid_new_spec_is_reported_not_created() -> None:
    problem = SpecProblem("specs/acme/digits.yaml", 1, 1, "metadata.name", "bad")
    assert decide(None, None, problems=(problem,)) is ActionKind.INVALID


def _run(status: str, sub: str = "", *, attempt: int = 1, generation: int = 1) -> RunObservation:
    return RunObservation(KEY, 11, generation, attempt, status, sub, "No heartbeat")


@pytest.mark.parametrize("phase", [Phase.STARTING, Phase.RUNNING])
def test_dead_run_is_recovered(phase: Phase) -> None:
    kind = decide(spec(), record(spec(), phase), run=_run("finished", "failed"), runtime_known=True)
    assert kind is ActionKind.RECOVER


def test_vanished_run_is_recovered() -> None:
    assert decide(spec(), record(spec(), Phase.RUNNING), runtime_known=True) is ActionKind.RECOVER


def test_run_of_an_older_attempt_does_not_speak_for_the_federation() -> None:
    old = _run("running", attempt=1)
    kind = decide(spec(), record(spec(), Phase.RUNNING, attempt=2), run=old, runtime_known=True)
    assert kind is ActionKind.RECOVER


def test_recoveries_are_bounded() -> None:
    rec = record(spec(), Phase.RUNNING, recoveries=3)
    kind = decide(spec(), rec, run=_run("finished", "failed"), runtime_known=True)
    assert kind is ActionKind.FAIL


def test_live_run_needs_nothing() -> None:
    rec = record(spec(), Phase.RUNNING)
    assert decide(spec(), rec, run=_run("running"), runtime_known=True) is None


def test_unreported_completion_is_completed_from_flower_status() -> None:
    rec = record(spec(), Phase.RUNNING, current_round=0)
    kind = decide(spec(), rec, run=_run("finished", "completed"), runtime_known=True)
    assert kind is ActionKind.COMPLETE


def test_run_that_ends_early_is_recovered() -> None:
    rec = record(spec(), Phase.RUNNING, current_round=2)
    kind = decide(spec(), rec, run=_run("finished", "completed"), runtime_known=True)
    assert kind is ActionKind.RECOVER


def test_pending_record_with_a_new_spec_starts_the_new_spec() -> None:
    assert decide(spec(rounds__total=8), record(spec(), Phase.PENDING)) is ActionKind.START


def test_pending_record_is_started_again() -> None:
    assert decide(spec(), record(spec(), Phase.PENDING)) is ActionKind.START


@pytest.mark.parametrize("phase", [Phase.PAUSED, *TERMINAL])
def test_runtime_is_not_consulted_for_resting_phases(phase: Phase) -> None:
    s = at_rest(phase)
    assert decide(s, record(s, phase), runtime_known=True) is None


def test_unreachable_runtime_never_reads_as_dead_runs() -> None:
    assert decide(spec(), record(spec(), Phase.RUNNING), runtime_known=False) is None


def test_actions_are_ordered_by_tenant_then_name() -> None:
    specs = [spec("b", "zeta"), spec("a", "zeta"), spec("z", "alpha")]
    result = plan(DesiredState(specs={s.key: s for s in specs}), {})
    assert [str(a.key) for a in result.actions] == ["alpha/z", "zeta/a", "zeta/b"]


def test_plan_exit_codes() -> None:
    s = spec()
    assert plan(DesiredState(specs={s.key: s}), {s.key: record(s, Phase.RUNNING)}).exit_code == 0
    assert plan(DesiredState(specs={s.key: s}), {}).exit_code == 1
    bad = SpecProblem("specs/acme/x.yaml", 0, 0, "", "not YAML")
    assert plan(DesiredState(problems={bad.file: (bad,)}), {}).exit_code == 2


def test_sensitive_values_are_masked_in_changes() -> None:
    old = spec(telemetry={"otlp": {"enabled": True, "headers": {"authorization": "Bearer s3cr3t"}}})
    new = spec(telemetry={"otlp": {"enabled": True, "headers": {"authorization": "Bearer n3w"}}})
    result = plan(DesiredState(specs={new.key: new}), {old.key: record(old, Phase.RUNNING)})
    (action,) = result.actions
    assert action.kind is ActionKind.UPDATE
    assert "s3cr3t" not in repr(action.changes) and "n3w" not in repr(action.changes)


def test_run_survives_an_in_place_update() -> None:
    rec = record(spec(), Phase.RUNNING, generation=2, run_generation=1)
    kind = decide(spec(), rec, run=_run("running", generation=1), runtime_known=True)
    assert kind is None
