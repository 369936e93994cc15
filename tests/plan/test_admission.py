"""Admission: starts wait for SuperNodes and queue behind concurrency limits, in a fair order.

Pure planner tests (plan/admission.py): higher spec.priority first, tenants taking turns
within a priority, then the federation Pending longest; running and paused ones hold slots.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.daemon.conditions import Findings, derive
from reconciler.model import (
    DEFAULT_TARGET,
    DesiredState,
    FederationSpec,
    Phase,
    RecordedFederation,
)
from reconciler.plan import ActionKind, PlanOptions, plan
from reconciler.plan.admission import NO_ELIGIBLE
from reconciler.selector import NodeLabels
from reconciler.specs.policy import Policy, TenantRules
from tests.plan.builders import record, spec

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def desired(*specs: FederationSpec) -> DesiredState:
    return DesiredState(specs={s.key: s for s in specs})


def started(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(a.key) for a in result.actions if a.kind is ActionKind.START]


def queued(result) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(str(a.key), a.reason) for a in result.actions if a.kind is ActionKind.QUEUED]


def pending(of: FederationSpec, minutes: int) -> RecordedFederation:
    """Recorded Pending (queued before) since T0 + `minutes`."""
    return record(of, Phase.PENDING, attempt=0, phase_since=T0 + timedelta(minutes=minutes))


def test_a_start_waits_while_fewer_supernodes_are_online_than_it_needs() -> None:
    needs_three, needs_one = spec("big"), spec("small", strategy__params__minAvailable=1)
    result = plan(
        desired(needs_three, needs_one), {}, None, PlanOptions(), nodes_online={DEFAULT_TARGET: 2}
    )
    kinds = {str(a.key): a.kind for a in result.actions}
    assert kinds == {"acme/big": ActionKind.WAITING, "acme/small": ActionKind.START}
    (waiting,) = [a for a in result.actions if a.kind is ActionKind.WAITING]
    assert "waiting for SuperNodes: 2 of 3 needed online" in waiting.reason
    assert result.exit_code == 1 and "1 waiting for SuperNodes" in result.summary()


def test_unknown_supernodes_hold_nothing_back() -> None:
    result = plan(desired(spec("big")), {}, None, PlanOptions(), nodes_online=None)
    assert started(result) == ["acme/big"]


def test_past_the_superlink_limit_starts_are_queued_with_their_position() -> None:
    specs = [spec(f"fed-{i}") for i in range(4)]
    result = plan(
        desired(*specs), {}, None, PlanOptions(max_running=2), nodes_online={DEFAULT_TARGET: 3}
    )
    assert started(result) == ["acme/fed-0", "acme/fed-1"]
    assert [(k, r.split(";")[0]) for k, r in queued(result)] == [
        ("acme/fed-2", "queued: position 1 of 2"),
        ("acme/fed-3", "queued: position 2 of 2"),
    ]
    assert all("2 of at most 2 federations running (--max-running)" in r for _, r in queued(result))


def test_higher_priority_starts_first() -> None:
    low, high = spec("a-low"), spec("z-high", priority=10)
    result = plan(desired(low, high), {}, None, PlanOptions(max_running=1))
    assert started(result) == ["acme/z-high"]


def test_tenants_take_turns_within_a_priority() -> None:
    acme = [spec(f"a{i}") for i in range(3)]
    globex = spec("g0", tenant="globex")
    result = plan(desired(*acme, globex), {}, None, PlanOptions(max_running=2))
    assert started(result) == ["acme/a0", "globex/g0"]
    assert [k for k, _ in queued(result)] == ["acme/a1", "acme/a2"]


def test_within_a_tenant_the_one_queued_first_starts_first() -> None:
    older, newer, brand_new = spec("zeta"), spec("alpha"), spec("beta")
    recorded = {older.key: pending(older, 0), newer.key: pending(newer, 5)}
    result = plan(desired(older, newer, brand_new), recorded, None, PlanOptions(max_running=2))
    assert started(result) == ["acme/alpha", "acme/zeta"]  # plan order; both admitted
    assert [k for k, _ in queued(result)] == ["acme/beta"]  # new: behind every queued one


def test_running_and_paused_federations_hold_slots() -> None:
    running, paused, done, new = spec("r"), spec("p"), spec("d"), spec("n")
    recorded = {
        running.key: record(running, Phase.RUNNING),
        paused.key: record(paused, Phase.PAUSED),
        done.key: record(done, Phase.COMPLETED),
    }
    options = PlanOptions(max_running=3)
    assert started(plan(desired(running, paused, done, new), recorded, None, options)) == ["acme/n"]
    options = PlanOptions(max_running=2)
    assert queued(plan(desired(running, paused, done, new), recorded, None, options))


def test_the_per_tenant_flag_applies_where_the_policy_sets_no_limit() -> None:
    acme = [spec(f"a{i}") for i in range(3)]
    globex = [spec(f"g{i}", tenant="globex") for i in range(3)]
    policy = Policy(tenants={"globex": TenantRules(max_concurrent=2)}, source="policy.yaml")
    options = PlanOptions(policy=policy, max_running_per_tenant=1)
    result = plan(desired(*acme, *globex), {}, None, options)
    assert started(result) == ["acme/a0", "globex/g0", "globex/g1"]
    reasons = dict(queued(result))
    assert "(--max-running-per-tenant)" in reasons["acme/a1"]
    assert "(policy.yaml, maxConcurrent)" in reasons["globex/g2"]


def test_a_start_waiting_for_supernodes_takes_no_slot() -> None:
    big, small = spec("a-big", strategy__params__minAvailable=5), spec("b-small")
    result = plan(
        desired(big, small), {}, None, PlanOptions(max_running=1), nodes_online={DEFAULT_TARGET: 3}
    )
    assert started(result) == ["acme/b-small"]


# --- clientSelector: only eligible SuperNodes count ------------------------------------


def gpu_spec(name: str, needed: int = 2) -> FederationSpec:
    return spec(name, clientSelector__tags=["gpu"], strategy__params__minAvailable=needed)


def test_a_selector_counts_only_matching_nodes_and_nodes_not_known_yet() -> None:
    labels = NodeLabels((1, 2, 3), {"acme": {1: {"tags": "gpu"}, 2: {"tags": "cpu"}}})
    two, three = gpu_spec("two"), gpu_spec("three", needed=3)

    result = plan(
        desired(two, three),
        {},
        None,
        PlanOptions(),
        nodes_online={DEFAULT_TARGET: 3},
        node_labels={DEFAULT_TARGET: labels},
    )

    assert started(result) == ["acme/two"]  # node 1 matches, node 3 is not known yet
    (waiting,) = [a for a in result.actions if a.kind is ActionKind.WAITING]
    assert waiting.reason.startswith(
        "waiting for SuperNodes: 2 of 3 needed online and matching clientSelector tags [gpu]"
    )


def test_a_selector_matching_no_online_node_says_so() -> None:
    labels = NodeLabels((1, 2), {"acme": {1: {"tags": "cpu"}, 2: {}}})

    result = plan(
        desired(gpu_spec("gpu")),
        {},
        None,
        PlanOptions(),
        nodes_online={DEFAULT_TARGET: 2},
        node_labels={DEFAULT_TARGET: labels},
    )

    (waiting,) = result.actions
    assert waiting.kind is ActionKind.WAITING
    assert waiting.reason.startswith(
        f"{NO_ELIGIBLE}: none of the 2 online match clientSelector tags [gpu]"
    )
    found = Findings(nodes_short=waiting.reason)
    record_ = record(gpu_spec("gpu"), Phase.PENDING, attempt=0)
    (short,) = [c for c in derive(record_, found, {}, "t") if c.type.value == "SuperNodesShort"]
    assert (short.status, short.reason) == ("True", "NoEligibleSuperNodes")


def test_labels_reported_by_another_tenant_do_not_hold_a_start_back() -> None:
    labels = NodeLabels((1, 2), {"globex": {1: {"tags": "cpu"}, 2: {"tags": "cpu"}}})

    result = plan(
        desired(gpu_spec("gpu")),
        {},
        None,
        PlanOptions(),
        nodes_online={DEFAULT_TARGET: 2},
        node_labels={DEFAULT_TARGET: labels},
    )

    assert started(result) == ["acme/gpu"]
