"""Admission with several SuperLinks: `--max-running` and the SuperNodes a start waits for
count per target (the one spec.target names, else the default); a tenant's limit counts
across all of them."""

from __future__ import annotations

from reconciler.model import DesiredState, FederationSpec, Phase, TargetNames
from reconciler.plan import ActionKind, PlanOptions, plan
from reconciler.specs.policy import Policy, TenantRules
from tests.plan.builders import record, spec

TWO = TargetNames(frozenset({"eu", "us"}), "eu")


def desired(*specs: FederationSpec) -> DesiredState:
    return DesiredState(specs={s.key: s for s in specs})


def kinds(result) -> dict[str, ActionKind]:  # type: ignore[no-untyped-def]
    return {a.key.name: a.kind for a in result.actions}


def test_max_running_counts_per_superlink() -> None:
    specs = [spec("eu-1", target="eu"), spec("eu-2"), spec("us-1", target="us")]
    options = PlanOptions(max_running=1, targets=TWO)
    result = plan(desired(*specs), {}, None, options, nodes_online={"eu": 3, "us": 3})
    assert kinds(result) == {
        "eu-1": ActionKind.START,
        "eu-2": ActionKind.QUEUED,  # no target: the default one, eu, is full
        "us-1": ActionKind.START,
    }
    (queued,) = [a for a in result.actions if a.kind is ActionKind.QUEUED]
    assert "1 of at most 1 federations running on SuperLink eu" in queued.reason


def test_a_running_federation_holds_a_slot_on_its_own_superlink_only() -> None:
    running = spec("busy", target="us")
    new = [spec("eu-1", target="eu"), spec("us-1", target="us")]
    recorded = {running.key: record(running, Phase.RUNNING)}
    options = PlanOptions(max_running=1, targets=TWO)
    result = plan(desired(running, *new), recorded, None, options, nodes_online={})
    assert kinds(result)["eu-1"] is ActionKind.START
    assert kinds(result)["us-1"] is ActionKind.QUEUED


def test_a_start_waits_for_the_supernodes_of_its_own_superlink() -> None:
    specs = [spec("eu-1", target="eu"), spec("us-1", target="us")]
    result = plan(
        desired(*specs), {}, None, PlanOptions(targets=TWO), nodes_online={"eu": 3, "us": 1}
    )
    assert kinds(result) == {"eu-1": ActionKind.START, "us-1": ActionKind.WAITING}
    waiting = [a.reason for a in result.actions if a.kind is ActionKind.WAITING]
    assert waiting and "1 of 3 needed online" in waiting[0]


def test_a_superlink_whose_nodes_are_not_known_holds_nothing_back() -> None:
    result = plan(
        desired(spec("us-1", target="us")),
        {},
        None,
        PlanOptions(targets=TWO),
        nodes_online={"eu": 0},
    )
    assert kinds(result) == {"us-1": ActionKind.START}


def test_a_tenant_limit_counts_across_superlinks() -> None:
    policy = Policy(tenants={"acme": TenantRules(max_concurrent=1)})
    specs = [spec("eu-1", target="eu"), spec("us-1", target="us")]
    options = PlanOptions(policy=policy, targets=TWO)
    result = plan(desired(*specs), {}, None, options, nodes_online={"eu": 3, "us": 3})
    assert sorted(kinds(result).values()) == sorted([ActionKind.START, ActionKind.QUEUED])
