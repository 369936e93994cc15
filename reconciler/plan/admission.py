"""Which starts may go now: concurrency limits, a fair queue, and the SuperNodes a start needs.

Pure, like the planner that calls it. A start (a new federation, or a recorded one never
started) is held back as `waiting` when fewer SuperNodes are online than its
`strategy.params.minAvailable` (Flower would submit it anyway and let its rounds time out),
and as `queued` when it would take its tenant past the tenant's limit (the tenant policy's
maxConcurrent, else the daemon's `--max-running-per-tenant`) or its SuperLink past the
daemon's limit per SuperLink (`--max-running`). Starting, Running and Paused federations
hold a slot. With several SuperLinks (targets), SuperNodes and `--max-running` count per
target: the one `spec.target` names, else the default one.

A start counts only the online SuperNodes its `clientSelector` lets it use (tags; no node
dedicated to another tenant): `selector.NodeLabels`, where a node whose labels its tenant's
runs have not reported yet counts. When none match, its reason says so (`NO_ELIGIBLE`) and
names the selector.

The queue order: higher `spec.priority` first; within one priority the tenants take turns
(every tenant's first waiting federation before any tenant's second), and within a tenant
the federation that has waited longest (Pending since the earliest time; new ones last, by
name) goes first. Queued starts say their place ("position 2 of 5").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.model import DEFAULT_TARGET, FederationKey, Phase, RecordedFederation, spec_target
from reconciler.plan.model import Action, ActionKind
from reconciler.selector import NodeLabels
from reconciler.specs.policy import Policy

# Phases that hold a slot (a paused run keeps its place, as it resumes where it was).
HOLDS_A_SLOT = frozenset((Phase.STARTING, Phase.RUNNING, Phase.PAUSED))
NO_ELIGIBLE = "no eligible SuperNodes"  # how the reason of a selector matching none begins
_NEVER = datetime.max.replace(
    tzinfo=UTC
)  # a federation not recorded yet queues behind every recorded one


@dataclass(frozen=True)
class Limits:
    """The concurrency limits of one planning: None means no limit."""

    policy: Policy
    max_running: int | None = None  # federations running at once on the SuperLink
    max_running_per_tenant: int | None = None  # for tenants the policy sets no limit for
    default_target: str | None = DEFAULT_TARGET  # where a spec without spec.target runs

    @property
    def limited(self) -> bool:
        return (
            self.max_running is not None
            or self.max_running_per_tenant is not None
            or self.policy.limits_concurrency
        )

    def of_tenant(self, tenant: str) -> tuple[int | None, str]:
        """The tenant's limit and where it comes from."""
        from_policy = self.policy.rules_for(tenant).max_concurrent
        if from_policy is not None:
            return from_policy, f"{self.policy.source}, maxConcurrent"
        return self.max_running_per_tenant, "--max-running-per-tenant"

    def target_of(self, named: str | None) -> str:
        """The SuperLink a spec naming `named` runs on ("" when none and no default)."""
        return named or self.default_target or ""


def admit(
    actions: list[Action],
    recorded: Mapping[FederationKey, RecordedFederation],
    limits: Limits,
    nodes_online: Mapping[str, int] | None,
    labels: Mapping[str, NodeLabels] | None = None,
) -> None:
    """Turn the starts that cannot go now into `waiting` or `queued`. In place.

    `nodes_online` maps each target to its SuperNodes online; a target missing from it (or
    None: no target) could not list them: then no start there waits for nodes (the limits
    still hold). `labels`: per target, which nodes are online and what their labels are,
    for starts with a clientSelector (None: every online node counts)."""
    starts = [i for i, a in enumerate(actions) if a.kind is ActionKind.START]
    if not starts or (not nodes_online and not limits.limited):
        return
    if nodes_online:
        starts = [
            i for i in starts if not _waits_for_nodes(actions, i, nodes_online, limits, labels)
        ]
    if limits.limited:
        _queue(actions, starts, recorded, limits)


def _waits_for_nodes(
    actions: list[Action],
    i: int,
    nodes_online: Mapping[str, int],
    limits: Limits,
    labels: Mapping[str, NodeLabels] | None,
) -> bool:
    action = actions[i]
    if action.spec is None:
        return False
    target = limits.target_of(action.spec.target)
    online = nodes_online.get(target)
    if online is None:
        return False
    there = labels.get(target) if labels is not None else None
    needed, selector = action.spec.min_available, action.spec.selector
    usable = online
    if there is not None and selector.restricts:
        usable = there.eligible(selector, action.key.tenant)
    if usable >= needed:
        return False
    if usable == online:
        reason = (
            f"waiting for SuperNodes: {online} of {needed} needed online "
            f"(strategy.params.minAvailable); starts when they connect"
        )
    elif usable == 0:
        reason = (
            f"{NO_ELIGIBLE}: none of the {online} online match {selector.describe()} "
            f"({needed} needed, strategy.params.minAvailable); starts when matching ones connect"
        )
    else:
        reason = (
            f"waiting for SuperNodes: {usable} of {needed} needed online and matching "
            f"{selector.describe()} (strategy.params.minAvailable); starts when they connect"
        )
    actions[i] = Action(ActionKind.WAITING, action.key, reason, spec=action.spec)
    return True


def _queue(
    actions: list[Action],
    starts: list[int],
    recorded: Mapping[FederationKey, RecordedFederation],
    limits: Limits,
) -> None:
    slots = [r for r in recorded.values() if r.phase in HOLDS_A_SLOT]
    holding = Counter(r.key.tenant for r in slots)
    # per target; only read from the documents when a limit per target is set (bounded then)
    running = Counter(
        limits.target_of(spec_target(r.document)) for r in slots if limits.max_running is not None
    )
    held: list[tuple[int, str]] = []  # (index, why), in queue order
    for i in sorted(starts, key=_queue_order(actions, starts, recorded)):
        tenant, spec = actions[i].key.tenant, actions[i].spec
        target = limits.target_of(spec.target if spec is not None else None)
        why = _over_limit(tenant, holding[tenant], (target, running[target]), limits)
        if why:
            held.append((i, why))
            continue
        holding[tenant] += 1
        running[target] += 1
    for position, (i, why) in enumerate(held, start=1):
        action = actions[i]
        reason = f"queued: position {position} of {len(held)}; {why}; starts when one ends"
        actions[i] = Action(ActionKind.QUEUED, action.key, reason, spec=action.spec)


def _over_limit(
    tenant: str, tenant_running: int, on_target: tuple[str, int], limits: Limits
) -> str:
    limit, source = limits.of_tenant(tenant)
    if limit is not None and tenant_running >= limit:
        return f"tenant {tenant} has {tenant_running} of at most {limit} running ({source})"
    target, running = on_target
    if limits.max_running is not None and running >= limits.max_running:
        where = "" if target == DEFAULT_TARGET else f" on SuperLink {target}"
        return (
            f"{running} of at most {limits.max_running} federations running{where} (--max-running)"
        )
    return ""


def _queue_order(
    actions: list[Action], starts: list[int], recorded: Mapping[FederationKey, RecordedFederation]
) -> Callable[[int], tuple[int, int, datetime, FederationKey]]:
    """The sort key of a start: (-priority, turn within its tenant, waiting since, key)."""

    def waited(i: int) -> tuple[int, datetime, FederationKey]:
        action = actions[i]
        record = recorded.get(action.key)
        since = record.phase_since if record is not None and record.phase_since else _NEVER
        priority = action.spec.priority if action.spec is not None else 0
        return -priority, since, action.key

    turns: dict[int, int] = {}
    seen: Counter[tuple[str, int]] = Counter()
    for i in sorted(starts, key=waited):
        priority, _, key = waited(i)
        turns[i] = seen[(key.tenant, priority)]
        seen[(key.tenant, priority)] += 1

    def order(i: int) -> tuple[int, int, datetime, FederationKey]:
        priority, since, key = waited(i)
        return priority, turns[i], since, key

    return order
