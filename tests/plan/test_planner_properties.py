"""Properties of the planner over generated worlds: it converges and it is deterministic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import DesiredState, FederationSpec, Phase, RecordedFederation, SpecProblem
from reconciler.plan import PlanMemo, PlanOptions, plan, simulate
from tests.plan.builders import record, spec

NAMES = ["a", "b", "c", "d"]


@st.composite
def variants(draw: st.DrawFn, name: str) -> FederationSpec:
    return spec(
        name,
        paused=draw(st.booleans()),
        stop=draw(st.booleans()),
        rounds__total=draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 1)),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[DesiredState, dict, PlanOptions]:
    specs: dict = {}
    recorded: dict[object, RecordedFederation] = {}
    problems: dict[str, tuple[SpecProblem, ...]] = {}
    for name in NAMES:
        if draw(st.booleans()):
            s = draw(variants(name))
            specs[s.key] = s
        if draw(st.booleans()):
            old = draw(variants(name))
            recorded[old.key] = record(old, draw(st.sampled_from(list(Phase))))
        if draw(st.integers(0, 5)) == 0:
            problem = SpecProblem(f"specs/acme/{name}.yaml", 1, 1, "spec", "broken")
            problems[problem.file] = (problem,)
            specs.pop(spec(name).key, None)
    claimed = {file: spec(file.rsplit("/", 1)[1][:-5]).key for file in problems}
    desired = DesiredState(specs=specs, problems=problems, claimed=claimed)
    return desired, recorded, PlanOptions(prune=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_applying_a_plan_converges(world: tuple[DesiredState, dict, PlanOptions]) -> None:
    desired, recorded, options = world
    first = plan(desired, recorded, None, options)
    after = simulate(recorded, first)
    second = plan(desired, after, None, options)
    assert not second.has_changes, second.actions


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_planning_is_deterministic(world: tuple[DesiredState, dict, PlanOptions]) -> None:
    desired, recorded, options = world
    assert plan(desired, recorded, None, options) == plan(desired, dict(recorded), None, options)


@settings(max_examples=200, deadline=None)
@given(worlds(), worlds(), st.lists(st.booleans(), min_size=len(NAMES), max_size=len(NAMES)))
def test_a_memo_changes_no_plan(
    first: tuple[DesiredState, dict, PlanOptions],
    other: tuple[DesiredState, dict, PlanOptions],
    keep: list[bool],
) -> None:
    """Planning again with a memo, after some federations changed (others are the very
    same objects), gives exactly the plan planning from scratch gives."""
    (d1, r1, options), (d2, r2, other_options) = first, other
    memo = PlanMemo()
    assert plan(d1, r1, None, options, memo=memo) == plan(d1, r1, None, options)
    specs, recorded = dict(d2.specs), dict(r2)
    for name, same in zip(NAMES, keep, strict=True):
        key = spec(name).key
        for now, before in ((specs, d1.specs), (recorded, r1)):
            if same and key in before:
                now[key] = before[key]
            elif same:
                now.pop(key, None)
    mixed = DesiredState(specs=specs, problems=d2.problems, claimed=d2.claimed)
    for opts in (options, other_options):
        assert plan(mixed, recorded, None, opts, memo=memo) == plan(mixed, recorded, None, opts)
