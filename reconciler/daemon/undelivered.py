"""Reports a finished run left for the daemon because it could not deliver them in time.

A run that ends while the daemon is away writes what it still holds next to the attempt's
checkpoints, sealed with its token (reconciler/flowerapp/undelivered.py). Once per cycle,
before planning, `UndeliveredReports.collect` looks for that file for each federation the
store still shows Starting or Running whose current attempt's Flower run has finished: it
reads it once per run, checks the seal with the token derived from the progress key (as
for live reports), and hands the reports to the progress sink in order, where they pass the
same checks as reports that arrive over HTTP (a file cannot record what a report could
not). With no file, the planner decides from Flower's status as before.

While the artifact store cannot be read, such a run is planned with as if it were still
running, for this cycle: no decision is taken from the run's end before its last reports
are read, else a run that completed could be resubmitted as if it had failed.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.apply import checkpoint_base
from reconciler.artifacts import ArtifactError, ArtifactNotFound, open_store
from reconciler.model import FederationKey, RecordedFederation, RunObservation
from reconciler.runtime.base import RuntimeFailure
from reconciler.runtime.progress import (
    MAX_JOURNAL,
    ProgressReport,
    ProgressSink,
    ReportRefused,
    journal_name,
    make_token,
    open_journal,
)

log = logging.getLogger(__name__)

_REMEMBERED = 10_000  # run ids whose file was read (or found absent) before forgetting


@dataclass
class Collected:
    """What one look found: the observed runs to plan with, and whether anything was
    recorded (then the recorded state must be read again)."""

    observed: Mapping[FederationKey, RunObservation]
    looked: int = 0  # runs whose file was looked for
    recorded: int = 0
    artifact_error: str = ""  # the store could not be read for some run: tried next cycle
    held: list[FederationKey] = field(default_factory=list)


def _not_ended_yet(run: RunObservation) -> RunObservation:
    return replace(run, status="running", sub_status="", details="its last reports are unread")


class UndeliveredReports:
    """Reads, once per finished run, what it left; records it through the progress sink."""

    def __init__(self, sink: ProgressSink, key: bytes, *, artifact_root: str | None) -> None:
        self.sink = sink
        self._key = key
        self.artifact_root = artifact_root
        self._read: set[tuple[str, int]] = set()  # (target, run id) already looked at

    def collect(
        self,
        recorded: Mapping[FederationKey, RecordedFederation],
        observed: Mapping[FederationKey, RunObservation],
    ) -> Collected:
        found = Collected(observed)
        for key, run in observed.items():
            if run.status != "finished":
                continue  # the usual case, checked first: 10,000 live runs cost ~1 ms
            record = recorded.get(key)
            if record is None or not self._ended_unreported(record, run):
                continue
            found.looked += 1
            try:
                found.recorded += self._replay(record, run)
            except ArtifactError as exc:  # only a store that may answer later gets here
                found.artifact_error = f"cannot read what run {run.run_id} left: {exc}"
                found.held.append(key)
        if found.held:
            found.observed = {
                k: _not_ended_yet(r) if k in found.held else r for k, r in observed.items()
            }
        return found

    def _ended_unreported(self, record: RecordedFederation, run: RunObservation) -> bool:
        current = (record.run_generation or record.generation, record.attempt)
        return (
            record.phase.run_under_way
            and (run.generation, run.attempt) == current
            and (run.target, run.run_id) not in self._read
        )

    def _replay(self, record: RecordedFederation, run: RunObservation) -> int:
        """Record the reports run `run` left, if any; how many were recorded."""
        federation = str(record.key)
        try:
            raw = self._journal(record, run)
            token = make_token(self._key, federation, run.generation, run.attempt, run.run_id)
            reports = [] if raw is None else open_journal(raw, token, run.run_id)
        except (ValueError, ArtifactError) as exc:
            if isinstance(exc, ArtifactError) and exc.transient:
                raise
            log.warning("ignoring what run %d of %s left: %s", run.run_id, federation, exc)
            reports = []
        recorded = self._record(federation, run.run_id, reports) if reports else 0
        self._remember(
            (run.target, run.run_id)
        )  # after recording: a store failure has it read again
        return recorded

    def _record(self, federation: str, run_id: int, reports: list[ProgressReport]) -> int:
        recorded = 0
        for report in reports:
            if report.federation != federation:
                continue  # sealed by this run's token, so only a bug could put it here
            try:
                self.sink.report(report)
                recorded += 1
            except ReportRefused:
                continue  # logged and counted by the sink, as for any report
        log.info(
            "%s: %d of %d reports run %d could not deliver were recorded from the artifact store",
            federation,
            recorded,
            len(reports),
            run_id,
        )
        return recorded

    def _journal(self, record: RecordedFederation, run: RunObservation) -> bytes | None:
        """The bytes of the run's file, or None when there is none (or no folder to look in)."""
        try:
            base = checkpoint_base(record.document, record.key, run.generation, self.artifact_root)
        except (RuntimeFailure, ValueError):
            return None  # no checkpoint folder: the run could not have left anything
        uri = f"{base}/{journal_name(run.run_id)}"
        with tempfile.TemporaryDirectory(prefix="thunderline-journal-") as tmp:
            try:
                path = open_store(base).get(uri, Path(tmp) / "journal.json")
            except ArtifactNotFound:
                return None
            if path.stat().st_size > MAX_JOURNAL:
                raise ValueError(f"{uri} is larger than {MAX_JOURNAL} bytes")
            return path.read_bytes()

    def _remember(self, run: tuple[str, int]) -> None:
        if len(self._read) >= _REMEMBERED:
            self._read.clear()
        self._read.add(run)
