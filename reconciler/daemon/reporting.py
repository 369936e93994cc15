"""The report step: turn recorded state and a cycle's findings into status files, and commit them.

Called by the daemon at the end of every cycle. A federation's recorded part (rounds,
artifact, runs) is re-read only when its row's version moved since the last report, so a
quiet cycle over 10,000 federations reads nothing but the federations table; when no
record, finding or error changed, no status is rebuilt and nothing is rendered. Rendering is
deterministic, so an unchanged world produces the same files and `StatusWriter` commits
nothing. Specs that never became a federation (invalid, denied, queued) are reported beside
the recorded ones (`daemon.unrecorded`). Failures land in the cycle's outcome
(`push_error`, `store_write_error`), which the daemon's `FailureLog` logs and counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from reconciler.daemon.conditions import Findings, derive
from reconciler.daemon.cycle import CycleOutcome
from reconciler.daemon.unrecorded import UnrecordedReports, find_unrecorded
from reconciler.lineage import current_line
from reconciler.model import (
    DEFAULT_TARGETS,
    Condition,
    ConditionType,
    FederationKey,
    FederationSpec,
    RecordedFederation,
    TargetNames,
)
from reconciler.notify.revisions import SpecCommit
from reconciler.plan import ActionKind
from reconciler.report import (
    ArtifactStatus,
    FederationStatus,
    RoundStatus,
    StatusPushFailed,
    StatusWriter,
)
from reconciler.report.model import EventStatus, event_summary
from reconciler.report.render import CachedRenderer, writable
from reconciler.report.writer import status_message
from reconciler.selector import NodeLabels
from reconciler.store import Store, StoreError
from reconciler.store.reports import ReportParts

log = logging.getLogger(__name__)
_NO_FINDINGS = Findings()  # shared: compared by identity before equality


@dataclass(frozen=True)
class _ReportInputs:
    """Everything the statuses are derived from, besides the clock."""

    recorded: Mapping[FederationKey, RecordedFederation]
    findings: Mapping[FederationKey, Findings]
    source_error: str
    runtime_error: str

    def same_as(self, before: _ReportInputs) -> bool:
        """Same errors, equal findings and the very same record objects: the store hands
        back the same object for a row whose version did not move."""
        now, was = self.recorded, before.recorded
        return (
            (self.source_error, self.runtime_error) == (before.source_error, before.runtime_error)
            and self.findings == before.findings
            and now.keys() == was.keys()
            and all(was[key] is record for key, record in now.items())
        )


class StatusReporter:
    """Keeps the last statuses (for lastTransitionTime and caching) and writes changes back."""

    def __init__(
        self,
        store: Store,
        writer: StatusWriter | None,
        targets: TargetNames = DEFAULT_TARGETS,
        spec_commit: Callable[[str, str], SpecCommit] | None = None,
        *,
        interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        # At least `interval` seconds between status commits: changes in between wait for
        # the next commit, made by a timer when no cycle comes (0: commit every change).
        self.interval, self._clock = interval, clock
        self._committed_at: float | None = None
        self._timer: threading.Timer | None = None
        self._seen_head: str | None = None  # the branch head the latest cycle saw
        self._lock = threading.RLock()  # the cycle and the timer's commit take turns
        # (path, loaded revision) -> the commit that changed the spec: notify.SpecCommits.find
        self.spec_commit = spec_commit or _as_loaded
        self.writer = writer
        self.targets = targets  # where a spec without spec.target runs, for SuperNodes online
        self._recorded: dict[FederationKey, tuple[int, FederationStatus]] = {}
        self.statuses: dict[FederationKey, FederationStatus] = {}
        self._written: dict[FederationKey, FederationStatus] | None = None
        self._render = CachedRenderer()
        # What each status was last derived from, to skip deriving it again when unchanged.
        self._inputs: dict[FederationKey, tuple[FederationStatus, Findings]] = {}
        # What the statuses as a whole were last built from: a quiet cycle rebuilds nothing.
        self._last_inputs: _ReportInputs | None = None
        self.last_error = ""
        # Specs without a federation (invalid, denied, queued), rendered beside the others.
        self.unrecorded = UnrecordedReports()
        self._written_unrecorded: dict[FederationKey, FederationStatus] | None = None
        self._findings_saved = True  # the store holds `unrecorded` as it is now
        # The most SuperNodes any desired spec needs, per desired specs mapping (the same
        # object while nothing moved): with at least that many online, nobody is short.
        self._most_needed: tuple[Mapping[FederationKey, FederationSpec], int] | None = None

    def _short_of_nodes(
        self, outcome: CycleOutcome, recorded: Mapping[FederationKey, RecordedFederation]
    ) -> dict[FederationKey, Findings]:
        online, desired = outcome.nodes_online, outcome.desired
        if not online or desired is None:
            return {}
        specs = desired.specs
        if self._most_needed is None or self._most_needed[0] is not specs:
            most = max((s.min_available for s in specs.values()), default=0)
            self._most_needed = (specs, most)
        labels = outcome.node_labels
        if min(online.values()) >= self._most_needed[1] and labels is None:
            return {}  # the usual case: no loop over every federation
        return short_of_nodes(online, specs, recorded, self.targets, labels)

    def __call__(self, outcome: CycleOutcome) -> None:
        with self._lock:
            self._report(outcome)

    def flush(self) -> None:
        """Commit what the interval held back (the timer's call)."""
        with self._lock:
            self._timer = None
            self._write(None)

    def close(self) -> None:
        """At shutdown: commit what is still held back, whatever the interval."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._write(None, hold=False)

    def _report(self, outcome: CycleOutcome) -> None:
        try:
            recorded = self.store.load_recorded()
        except StoreError as exc:
            self.last_error = f"status not written: {exc}"
            outcome.store_write_error = outcome.store_write_error or self.last_error
            return
        found = find_unrecorded(outcome.plan, recorded, outcome.spec_revisions)
        if self.unrecorded.refresh(found, _now()):
            self._findings_saved = False
        if not self._findings_saved:
            self._save_findings(outcome)
        inputs = _ReportInputs(
            recorded,
            findings_by_key(outcome, self._short_of_nodes(outcome, recorded)),
            outcome.source_error,
            outcome.runtime_error,
        )
        before = self._last_inputs
        if before is None or not inputs.same_as(before):
            self._refresh_recorded(recorded, outcome)
            self.statuses = self._statuses(inputs, before, outcome)
            self._last_inputs = inputs
        self._write(outcome)

    def _statuses(
        self, inputs: _ReportInputs, before: _ReportInputs | None, outcome: CycleOutcome
    ) -> dict[FederationKey, FederationStatus]:
        """Statuses derived again for the federations whose record or findings changed
        since `before` (all of them when the cycle's errors did); the rest carried over."""
        recorded, findings = inputs.recorded, inputs.findings
        errors = (inputs.source_error, inputs.runtime_error)
        if before is None or errors != (before.source_error, before.runtime_error):
            touched: Iterable[FederationKey] = recorded.keys()
        else:
            was = before.recorded
            moved = {key for key, record in recorded.items() if was.get(key) is not record}
            touched = moved | findings.keys() | before.findings.keys()
        statuses = {key: s for key, s in self.statuses.items() if key in recorded}
        now = _now()
        for key in sorted(touched):
            record = recorded.get(key)
            if record is not None:
                found = findings.get(key, _NO_FINDINGS)
                statuses[key] = self._status(record, found, outcome, now)
        return statuses

    def _refresh_recorded(
        self, recorded: Mapping[FederationKey, RecordedFederation], outcome: CycleOutcome
    ) -> None:
        """Rebuild the recorded part of the statuses whose row changed, in one batch."""
        stale = [
            key
            for key, record in recorded.items()
            if key not in self._recorded or self._recorded[key][0] != record.version
        ]
        parts = self.store.report_parts(stale)
        for key in stale:
            if key in parts:
                record = recorded[key]
                found = self.spec_commit(record.path, _revision_of(record, outcome))
                status = build_status(record, parts[key], revision=found)
                self._recorded[key] = (record.version, status)
        for gone in self._recorded.keys() - recorded.keys():
            del self._recorded[gone]
            self._inputs.pop(gone, None)

    def _status(
        self, record: RecordedFederation, found: Findings, outcome: CycleOutcome, now: str
    ) -> FederationStatus:
        base = self._recorded[record.key][1]
        if outcome.source_error or outcome.runtime_error:
            found = replace(
                found, source_error=outcome.source_error, runtime_error=outcome.runtime_error
            )
        previous = self.statuses.get(record.key)
        seen = self._inputs.get(record.key)
        unchanged = seen is not None and seen[0] is base and (seen[1] is found or seen[1] == found)
        if previous is not None and unchanged:
            return previous  # same record, same findings: same conditions, same status
        self._inputs[record.key] = (base, found)
        before: Mapping[ConditionType, Condition] = (
            {c.type: c for c in previous.conditions} if previous else {}
        )
        problems = tuple(str(p) for p in found.problems)
        return replace(base, conditions=derive(record, found, before, now), problems=problems)

    def _save_findings(self, outcome: CycleOutcome) -> None:
        """Specs without a federation, for `reconciler status`; retried until saved."""
        try:
            self.store.replace_spec_findings(self.unrecorded.rows())
            self._findings_saved = True
        except StoreError as exc:
            outcome.store_write_error = outcome.store_write_error or (
                f"invalid and queued specs not recorded: {exc}"
            )

    def _write(self, outcome: CycleOutcome | None, *, hold: bool = True) -> None:
        """Commit the statuses if they differ from the last written; `outcome`: the cycle's
        (None from the timer or at shutdown: a failure is logged and retried next cycle)."""
        unrecorded = self.unrecorded.statuses
        if outcome is not None:
            self._seen_head = outcome.revision
        if self.writer is None or (
            self.statuses is self._written and unrecorded is self._written_unrecorded
        ):
            return  # nothing changed since the last successful write: no rendering, no git
        if self.statuses == self._written and unrecorded == self._written_unrecorded:
            # rebuilt but equal: later cycles compare by identity
            self._written, self._written_unrecorded = self.statuses, unrecorded
            if self.last_error and outcome is not None:  # moot: the branch is up to date
                self.last_error, outcome.pushed = "", True
            return
        wait = self._wait() if hold else 0.0
        if wait > 0:
            self._commit_in(wait)  # batched: the latest statuses go out then
            return
        now = {**self.statuses, **unrecorded}
        written = {**(self._written or {}), **(self._written_unrecorded or {})}
        # A spec whose folder or name cannot be a file name has its problems in the log and
        # `reconciler status`; its report would be refused at rendering, and every other
        # federation's report with it.
        files = self._render([status for status in now.values() if writable(status.key)])
        try:
            message = status_message(*_changes(written, now))
            self.writer.write(files, message=message, seen_head=self._seen_head)
            self._written, self._written_unrecorded = self.statuses, unrecorded
            self._committed_at = self._clock()
            self.last_error = ""
            if outcome is not None:
                outcome.pushed = True
        except StatusPushFailed as exc:
            self.last_error = f"status push failed: {exc}"
            if outcome is not None:
                outcome.pushed, outcome.push_error = False, self.last_error
            else:
                log.warning("%s (the next cycle writes again)", self.last_error)

    def _wait(self) -> float:
        """Seconds until the interval since the last status commit has passed."""
        if self.interval <= 0 or self._committed_at is None:
            return 0.0
        return self._committed_at + self.interval - self._clock()

    def _commit_in(self, wait: float) -> None:
        if self._timer is None:
            self._timer = threading.Timer(wait, self.flush)
            self._timer.daemon = True
            self._timer.start()


def _changes(
    written: Mapping[FederationKey, FederationStatus], now: Mapping[FederationKey, FederationStatus]
) -> tuple[list[FederationStatus], list[FederationKey]]:
    """The statuses new or changed since the last write, and the federations gone."""
    changed = [s for key, s in now.items() if written.get(key) is not s and written.get(key) != s]
    return changed, [key for key in written if key not in now]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _as_loaded(path: str, revision: str) -> SpecCommit:
    """Without a Git checkout to ask (tests, in-memory worlds): the loaded revision."""
    return SpecCommit(revision)


def _revision_of(record: RecordedFederation, outcome: CycleOutcome) -> str:
    """The revision whose spec this federation runs: where its file was last loaded, when
    that file still holds the recorded spec."""
    desired = outcome.desired
    spec = desired.specs.get(record.key) if desired else None
    if spec is None or spec.digest != record.digest:
        return ""
    return outcome.spec_revisions.get(spec.path, "")


def findings_by_key(
    outcome: CycleOutcome, short: dict[FederationKey, Findings] | None = None
) -> dict[FederationKey, Findings]:
    """What the cycle found per federation; `short`: those short of SuperNodes."""
    found = dict(short or {})
    for action in outcome.plan.actions if outcome.plan else ():
        if action.kind is ActionKind.INVALID:
            found[action.key] = Findings(problems=action.problems)
        elif action.kind is ActionKind.ORPHAN:
            found[action.key] = Findings(orphaned=action.reason)
        elif action.kind is ActionKind.PRUNE_BLOCKED:
            found[action.key] = Findings(prune_blocked=action.reason)
        elif action.kind is ActionKind.QUEUED:
            found[action.key] = Findings(queued=action.reason)
        elif action.kind is ActionKind.WAITING:
            found[action.key] = Findings(nodes_short=action.reason)
    for result in outcome.results:
        key = result.action.key
        prior = found.get(key, _NO_FINDINGS)
        found[key] = replace(
            prior,
            apply_error=result.error,
            apply_transient=result.transient,
            acted=result.ok,
        )
    return found


def short_of_nodes(
    online: Mapping[str, int],
    specs: Mapping[FederationKey, FederationSpec],
    recorded: Mapping[FederationKey, RecordedFederation],
    targets: TargetNames = DEFAULT_TARGETS,
    labels: Mapping[str, NodeLabels] | None = None,
) -> dict[FederationKey, Findings]:
    """Running federations that need more SuperNodes than their target has online (`online`
    per target; one missing is not known), or online and matching their clientSelector
    (`labels` per target): said before their round times out. The spec's minAvailable
    comes from the desired spec (cached on it)."""
    found: dict[FederationKey, Findings] = {}
    for key, record in recorded.items():
        spec = specs.get(key) if record.phase.run_under_way else None
        if spec is None:
            continue
        target = targets.resolve(spec.target)
        there = online.get(target) if target is not None else None
        if there is None:
            continue
        selector, usable = spec.selector, there
        node_labels = labels.get(target) if labels is not None and target is not None else None
        if node_labels is not None and selector.restricts:
            usable = node_labels.eligible(selector, key.tenant)
        if spec.min_available > usable:
            matching = f" and match {selector.describe()}" if usable < there else ""
            found[key] = Findings(
                nodes_short=f"{usable} of {spec.min_available} SuperNodes needed are online"
                f"{matching} (strategy.params.minAvailable): its rounds wait, then time out"
            )
    return found


def build_status(
    record: RecordedFederation, parts: ReportParts, *, revision: SpecCommit
) -> FederationStatus:
    """The recorded part of a federation's status (conditions come from the cycle)."""
    rounds = tuple(
        RoundStatus(r.number, r.status, dict(r.metrics), r.started_at, r.completed_at)
        for r in current_line(parts.rounds)
    )
    latest = parts.latest_artifact
    artifact = (
        ArtifactStatus(latest.uri, latest.sha256, latest.size, latest.format, latest.round)
        if latest is not None
        else None
    )
    completed = [r for r in rounds if r.status == "completed"]
    return FederationStatus(
        key=record.key,
        path=record.path,
        phase=record.phase,
        reason=record.reason,
        generation=record.generation,
        observed_generation=record.observed_generation,
        spec_digest=record.digest,
        revision=revision.commit,
        revision_known=revision.known,
        current_round=record.current_round,
        total_rounds=record.total_rounds,
        rounds=rounds,
        last_metrics=completed[-1].metrics if completed else {},
        artifact=artifact,
        run_ids=tuple(run.run_id for run in parts.runs),
        flower_target=parts.runs[-1].target if parts.runs else None,
        created_at=parts.row.created_at,
        updated_at=parts.row.updated_at,
        events=tuple(EventStatus(e.time, e.type, event_summary(e.payload)) for e in parts.events),
    )
