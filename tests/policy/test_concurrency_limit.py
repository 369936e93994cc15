"""A tenant's maxConcurrent: starts past it are `queued` in plan order, they start when a
slot frees up, other tenants are not held back, and a paused federation keeps its slot."""

from __future__ import annotations

from reconciler.model import DesiredState, Phase
from reconciler.plan import ActionKind, PlanOptions, plan
from reconciler.plan.render import to_text
from reconciler.specs.policy import Policy, TenantRules
from tests.plan.builders import record, spec

LIMITED = PlanOptions(policy=Policy(tenants={"acme": TenantRules(max_concurrent=2)}))


def kinds_of(result) -> dict[str, ActionKind]:  # type: ignore[no-untyped-def]
    return {str(a.key): a.kind for a in result.actions}


def test_starts_past_the_limit_are_queued_in_plan_order() -> None:
    new = [spec(f"fed-{i}") for i in range(4)] + [spec("other", tenant="globex")]
    desired = DesiredState(specs={s.key: s for s in new})

    result = plan(desired, {}, None, LIMITED)

    assert kinds_of(result) == {
        "acme/fed-0": ActionKind.START,
        "acme/fed-1": ActionKind.START,
        "acme/fed-2": ActionKind.QUEUED,
        "acme/fed-3": ActionKind.QUEUED,
        "globex/other": ActionKind.START,  # no limit for globex
    }
    queued = [a for a in result.actions if a.kind is ActionKind.QUEUED]
    assert all("2 of at most 2" in a.reason and "maxConcurrent" in a.reason for a in queued)
    assert result.exit_code == 1
    assert "2 queued for a free slot" in to_text(result)


def test_running_and_paused_federations_hold_slots_finished_ones_do_not() -> None:
    running, paused, done = spec("running"), spec("paused"), spec("done")
    new = spec("new")
    desired = DesiredState(specs={s.key: s for s in (running, paused, done, new)})
    recorded = {
        running.key: record(running, Phase.RUNNING),
        paused.key: record(paused, Phase.PAUSED),
        done.key: record(done, Phase.COMPLETED),
    }
    assert kinds_of(plan(desired, recorded, None, LIMITED))["acme/new"] is ActionKind.QUEUED

    recorded[running.key] = record(running, Phase.COMPLETED)
    assert kinds_of(plan(desired, recorded, None, LIMITED))["acme/new"] is ActionKind.START


def test_without_a_limit_nothing_is_queued() -> None:
    new = [spec(f"fed-{i}") for i in range(5)]
    result = plan(DesiredState(specs={s.key: s for s in new}), {}, None, PlanOptions())
    assert {a.kind for a in result.actions} == {ActionKind.START}
