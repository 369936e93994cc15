"""Statuses of specs that never became a federation: broken, or denied by policy.

Called by the report step (`reporting.StatusReporter`) each cycle. A new spec that fails to
load or validate gets a report with phase `Invalid` and a `SpecInvalid` condition (or
`PolicyDenied` when only its tenant policy refuses it) listing every `FILE:LINE:COL` problem.
A broken file whose name cannot be read is reported under the name of its file
(`specs/<tenant>/<name>.yaml`). Once the spec is fixed its federation is recorded and the
normal report replaces this one; once the file is deleted the report goes. Costs nothing in
a repository without broken specs: the cycle's plan has no such action. (A start held back,
queued or waiting for SuperNodes, is recorded Pending and reported like any federation.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.daemon.conditions import Findings, derive_unrecorded
from reconciler.model import Condition, ConditionType, FederationKey, SpecProblem
from reconciler.plan import ActionKind, Plan
from reconciler.report import FederationStatus, ReportPhase
from reconciler.specs.layout import YAML_SUFFIXES, is_dns_label, tenant_of
from reconciler.store.findings import SpecFindingRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unrecorded:
    """What the cycle found about a spec without a federation."""

    key: FederationKey
    path: str
    revision: str = ""
    problems: tuple[SpecProblem, ...] = ()

    @property
    def reason(self) -> str:
        return "PolicyDenied" if all(p.policy for p in self.problems) else "SpecInvalid"


def find_unrecorded(
    plan: Plan | None,
    recorded: Mapping[FederationKey, object],
    revisions: Mapping[str, str],
) -> dict[FederationKey, Unrecorded] | None:
    """The specs the plan reports but nobody recorded; None when there was no plan."""
    if plan is None:
        return None
    found: dict[FederationKey, Unrecorded] = {}
    for action in plan.actions:
        key = action.key
        if action.kind is ActionKind.INVALID and action.problems and key not in recorded:
            path = action.problems[0].file
            found[key] = Unrecorded(key, path, revisions.get(path, ""), action.problems)
    for file, problems in _by_file(plan.unclaimed_problems).items():
        named = key_of_path(file)
        if named is None or named in recorded or named in found:
            continue  # no name to report it under: the plan and the log still list it
        found[named] = Unrecorded(named, file, revisions.get(file, ""), problems)
    return found


def key_of_path(path: str) -> FederationKey | None:
    """The federation `specs/<tenant>/<name>.yaml` would hold, when both are valid names."""
    tenant = tenant_of(path)
    parts = path.split("/")
    if tenant is None or len(parts) != 3:
        return None
    name = parts[2]
    for suffix in YAML_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if not (is_dns_label(tenant) and is_dns_label(name)):
        return None
    return FederationKey(tenant, name)


def _by_file(problems: Iterable[SpecProblem]) -> dict[str, tuple[SpecProblem, ...]]:
    grouped: dict[str, tuple[SpecProblem, ...]] = {}
    for problem in problems:
        grouped[problem.file] = (*grouped.get(problem.file, ()), problem)
    return grouped


class UnrecordedReports:
    """The statuses of specs without a federation, kept between cycles: the same dict while
    nothing changed (the writer compares by identity), conditions keep their times."""

    def __init__(self) -> None:
        self.statuses: dict[FederationKey, FederationStatus] = {}
        self._found: dict[FederationKey, Unrecorded] = {}

    def refresh(self, found: dict[FederationKey, Unrecorded] | None, now: str) -> bool:
        """Take this cycle's findings; True when the statuses changed."""
        if found is None or found == self._found:
            return False
        statuses: dict[FederationKey, FederationStatus] = {}
        for key, seen in sorted(found.items()):
            previous = self.statuses.get(key)
            if previous is not None and self._found.get(key) == seen:
                statuses[key] = previous
                continue
            statuses[key] = _status(seen, previous, now)
            _log_found(seen)
        for key in self._found.keys() - found.keys():
            log.info("spec for %s: no longer reported as %s", key, self._found[key].reason)
        self.statuses, self._found = statuses, found
        return True

    def rows(self) -> list[SpecFindingRow]:
        """For `reconciler status` (saved in the store)."""
        return [
            SpecFindingRow(
                key,
                s.path,
                s.phase.value,
                s.reason,
                next((c.message for c in s.conditions if c.type is ConditionType.READY), ""),
                s.problems,
            )
            for key, s in sorted(self.statuses.items())
        ]


def _status(seen: Unrecorded, previous: FederationStatus | None, now: str) -> FederationStatus:
    before: Mapping[ConditionType, Condition] = (
        {c.type: c for c in previous.conditions} if previous else {}
    )
    return FederationStatus(
        key=seen.key,
        path=seen.path,
        phase=ReportPhase.INVALID,
        reason=seen.reason,
        conditions=derive_unrecorded(Findings(problems=seen.problems), before, now),
        revision=seen.revision,
        problems=tuple(str(p) for p in seen.problems),
    )


def _log_found(seen: Unrecorded) -> None:
    what = "denied by its tenant policy" if seen.reason == "PolicyDenied" else "invalid"
    log.warning(
        "spec %s for %s is %s; nothing is created until it is fixed: %s",
        seen.path,
        seen.key,
        what,
        "; ".join(str(p) for p in seen.problems),
    )
