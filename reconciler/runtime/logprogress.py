"""Round progress of apps that do not report it, read from Flower's own log lines.

A team's app without the control SDK never talks to the daemon, but Flower's strategy loop
logs `[ROUND r/N]` when a round starts, `Aggregated MetricRecord: {...}` after aggregating,
and `Strategy execution finished` at the end (Flower's workflows and legacy server loop:
`[ROUND r]` and `Run finished N round(s)`). `parse_log(lines)` (pure) turns a run's log
into a `LogProgress`; `LogFollower.follow(recorded, observed)`, called by the daemon once per
cycle, reads the logs of the active runs of such apps and feeds what it finds to the
daemon's progress sink as ordinary progress reports: round_started / round_completed (with
metrics), completed when Flower says the run completed, and failed with the app's own error
line (e.g. `ModuleNotFoundError: No module named 'torch'`) when the ServerApp raised.
Best effort: an app with its own loop and no such lines shows no rounds, only its start and
its end from Flower's run status (its completion is then left to the planner, which trusts
Flower's status for an app that reported no round). These reports go through the same checks
as the ServerApp's own (rounds in order, within rounds.total): a log line an app prints
cannot record more than a report could; a refused one is logged and counted by the sink.
"""

from __future__ import annotations

import ast
import enum
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import FederationKey, RecordedFederation, RunObservation
from reconciler.runtime.base import Runtime, RuntimeFailure
from reconciler.runtime.progress import ProgressReport, ProgressSink, ReportKind, ReportRefused
from reconciler.specs.apps import spec_app

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Strategy.start logs "[ROUND r/N]"; Flower's own other loops (the workflows of
# flwr.server.workflow and the legacy Server.fit) log "[ROUND r]" and, at their end,
# "Run finished N round(s) in 1.23s".
_ROUND = re.compile(r"\[ROUND (\d+)(?:/(\d+))?\]")
_METRICS = re.compile(r"(Aggregated )?MetricRecord: (\{.*\})\s*$")
# Which of Flower's three metric records a line belongs to (Strategy.start logs them in this
# order); the names follow Flower's Result: train_metrics_clientapp,
# evaluate_metrics_clientapp, evaluate_metrics_serverapp.
TRAIN, EVAL, SERVER_EVAL = "train", "eval", "server-eval"
_EVALUATE = re.compile(r"^(configure|aggregate)_evaluate\b")
_GLOBAL = re.compile(r"^Global evaluation")
_FINISHED = re.compile(r"Strategy execution finished|Run finished (\d+) round\(s\)")
# The last line of a Python traceback: "pkg.module.SomeError: message" (or just the name).
_ERROR = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)(?::\s.*)?$")
_MISSING = ("ModuleNotFoundError", "ImportError")
# Flower's run details when the ServerApp itself raised (flwr/superlink/runtime/run_serverapp.py);
# a lost heartbeat (a SuperLink restart) says something else and is left to recovery.
APP_RAISED = "ServerApp failed with exception"
MISSING_HINT = (
    "a dependency of the app is not installed where Flower runs it; preinstall it on the "
    "SuperLink and SuperNodes (see docs/byo-apps.md)"
)


class Follow(enum.Enum):
    """How much of a run's log the daemon reads."""

    NOTHING = "nothing"  # the built-in app: it reports everything itself
    FAILURES = "failures"  # an app with the control SDK: only an end it could not report
    ROUNDS = "rounds"  # an app without it: rounds, metrics, completion and failure


@dataclass(frozen=True)
class LogProgress:
    """What a run's log says so far."""

    total: int | None = None  # N of "[ROUND r/N]" or "Run finished N round(s)", once seen
    started: tuple[int, ...] = ()
    completed: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    skipped: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # non-numeric metrics
    error: str = ""  # the last exception line, e.g. "ModuleNotFoundError: No module named 'x'"

    @property
    def last_completed(self) -> int:
        return max(self.completed, default=0)


def parse_log(lines: Iterable[str]) -> LogProgress:
    """Rounds started and completed, their metrics, and the app's last error line.

    Round r is complete when round r + 1 starts or the strategy finishes; metric lines
    between belong to round r, named `train/<key>`, `eval/<key>` and `server-eval/<key>`
    so an evaluate metric never replaces a train metric of the same name.
    """
    rounds = _Rounds()
    error = ""
    for raw in lines:
        line = _ANSI.sub("", raw).strip()
        message = line.split(":", 1)[1].strip() if _is_flower_log(line) else line
        if match := _ROUND.search(message):
            rounds.start(int(match.group(1)), _number(match.group(2)))
        elif match := _METRICS.search(message):
            rounds.record(bool(match.group(1)), match.group(2))
        elif _EVALUATE.match(message):
            rounds.phase = EVAL
        elif _GLOBAL.match(message):
            rounds.phase = SERVER_EVAL
        elif match := _FINISHED.search(message):
            rounds.finish(_number(match.group(1)))
        elif match := _ERROR.match(line):
            error = line
    return LogProgress(rounds.total, tuple(rounds.started), rounds.completed, rounds.skipped, error)


def _number(text: str | None) -> int | None:
    return int(text) if text else None


@dataclass
class _Rounds:
    """The parser's state: the round under way and what it logged so far."""

    total: int | None = None
    started: list[int] = field(default_factory=list)
    completed: dict[int, dict[str, float]] = field(default_factory=dict)
    skipped: dict[int, tuple[str, ...]] = field(default_factory=dict)
    phase: str = TRAIN
    current: dict[str, float] = field(default_factory=dict)
    current_skipped: list[str] = field(default_factory=list)

    def start(self, rnd: int, total: int | None) -> None:
        self.finish()
        self.started.append(rnd)
        self.total, self.phase = total or self.total, TRAIN
        self.current, self.current_skipped = {}, []

    def record(self, aggregated: bool, text: str) -> None:
        if not aggregated:
            phase = SERVER_EVAL
        elif self.phase == TRAIN and any(k.startswith(f"{TRAIN}/") for k in self.current):
            phase = EVAL  # an app whose evaluate step logs no configure_evaluate line
        else:
            phase = self.phase
        values, skipped = _metrics(text)
        self.current.update({f"{phase}/{k}": v for k, v in values.items()})
        self.current_skipped.extend(f"{phase}/{k}" for k in skipped)
        if phase == TRAIN:
            self.phase = EVAL

    def finish(self, total: int | None = None) -> None:
        self.total = total or self.total
        if not self.started:
            return
        rnd = self.started[-1]
        self.completed[rnd] = self.current
        if self.current_skipped:
            self.skipped[rnd] = tuple(self.current_skipped)


def _is_flower_log(line: str) -> bool:
    """Flower's own lines read "INFO :      message"."""
    head = line.split(":", 1)[0].strip()
    return head in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _metrics(text: str) -> tuple[dict[str, float], list[str]]:
    """A logged MetricRecord's numbers, and the names of values that are not numbers.

    A list-valued metric (MetricRecord allows list[int] and list[float]) counts as its last
    value; an empty list or anything else is skipped by name, never dropped silently.
    """
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {}, []
    if not isinstance(value, dict):
        return {}, []
    numbers: dict[str, float] = {}
    skipped: list[str] = []
    for key, item in value.items():
        if isinstance(item, list) and item:
            item = item[-1]
        if isinstance(item, int | float) and not isinstance(item, bool):
            numbers[str(key)] = float(item)
        else:
            skipped.append(str(key))
    return numbers, skipped


@dataclass
class _Followed:
    """What was already reported for one run."""

    started: set[int] = field(default_factory=set)
    completed: set[int] = field(default_factory=set)


class LogFollower:
    """Turns the logs of runs whose app does not report into progress reports.

    `follow_mode(document)` says how much to read for a federation's app (the daemon passes
    `reconciler.runtime.apps.log_follow_mode` bound to its checkout): an app with the
    control SDK reports its own rounds, but not a failure that happens before its ServerApp
    runs (a missing dependency). The mode of a document without `spec.app` depends on that
    document alone, so it is kept by digest: a steady cycle reads no document. An app's mode
    may change with the checkout and is asked every cycle. Used from the cycle thread only.
    """

    def __init__(
        self,
        runtime: Runtime,
        sink: ProgressSink,
        follow_mode: Callable[[Mapping[str, Any]], Follow],
    ) -> None:
        self.runtime = runtime
        self.sink = sink
        self.follow_mode = follow_mode
        self._runs: dict[tuple[str, int], _Followed] = {}  # by (target, run id)
        self._modes: dict[str, Follow] = {}  # digest -> mode, for documents without an app

    def follow(
        self,
        recorded: Mapping[FederationKey, RecordedFederation],
        observed: Mapping[FederationKey, RunObservation],
    ) -> bool:
        """Report what the logs of active log-followed runs show; True if anything was sent."""
        followed = []
        for key, run in observed.items():
            record = recorded.get(key)
            if record is None or not self._current(record, run):
                continue
            mode = self._mode(record)
            if mode is Follow.NOTHING or (mode is Follow.FAILURES and not run.finished):
                continue
            followed.append((key, run, mode))
        if len(self._modes) > 2 * len(recorded):  # specs changed many times: drop stale digests
            self._modes = {}
        sent = False
        for _, run, mode in sorted(followed, key=lambda item: item[0]):
            sent |= self._follow_run(run, mode)
        active = {(run.target, run.run_id) for _, run, _ in followed}
        self._runs = {k: v for k, v in self._runs.items() if k in active}
        return sent

    @staticmethod
    def _current(record: RecordedFederation, run: RunObservation) -> bool:
        generation = record.run_generation or record.generation
        attempt_matches = (run.generation, run.attempt) == (generation, record.attempt)
        return attempt_matches and record.phase.run_under_way

    def _mode(self, record: RecordedFederation) -> Follow:
        known = self._modes.get(record.digest)
        if known is not None:
            return known
        try:
            mode = self.follow_mode(record.document)
        except RuntimeFailure as exc:  # the app cannot be read now; try next cycle
            log.info("cannot tell how %s reports progress: %s", record.key, exc)
            return Follow.NOTHING
        if spec_app(record.document) is None:
            self._modes[record.digest] = mode
        return mode

    def _follow_run(self, run: RunObservation, mode: Follow) -> bool:
        try:
            lines = self.runtime.logs(run.run_id, target=run.target)
        except RuntimeFailure as exc:
            log.info("logs of run %s unavailable: %s", run.run_id, exc)
            return False
        progress = parse_log(lines)
        seen = self._runs.setdefault((run.target, run.run_id), _Followed())
        if mode is Follow.ROUNDS:
            reports = [*_round_reports(run, progress, seen), *_end_reports(run, progress)]
        else:
            reports = [r for r in _end_reports(run, progress) if r.kind == ReportKind.FAILED]
        for report in reports:
            try:
                self.sink.report(report)
            except ReportRefused:
                continue  # the sink logged and counted it; the next ones may still hold
        return bool(reports)


def _report(run: RunObservation, kind: ReportKind, rnd: int, **extra: Any) -> ProgressReport:
    return ProgressReport(
        federation=str(run.key),
        generation=run.generation,
        attempt=run.attempt,
        run_id=run.run_id,
        kind=kind,
        round=rnd,
        **extra,
    )


def _round_reports(
    run: RunObservation, progress: LogProgress, seen: _Followed
) -> Iterable[ProgressReport]:
    for rnd in progress.started:
        if rnd not in seen.started:
            seen.started.add(rnd)
            yield _report(run, ReportKind.ROUND_STARTED, rnd)
        if rnd in progress.completed and rnd not in seen.completed:
            seen.completed.add(rnd)
            metrics = progress.completed[rnd]
            message = _skipped_message(progress.skipped.get(rnd, ()))
            if message:
                log.info("%s round %d: %s", run.key, rnd, message)
            yield _report(run, ReportKind.ROUND_COMPLETED, rnd, metrics=metrics, message=message)


def _skipped_message(names: tuple[str, ...]) -> str:
    return f"metrics skipped (not numbers): {', '.join(names)}" if names else ""


def _end_reports(run: RunObservation, progress: LogProgress) -> Iterable[ProgressReport]:
    """A finished run's outcome. Only a failure the app raised is reported: another one (a
    SuperLink restart, a lost heartbeat) is left to the planner, which may resubmit the run."""
    if not run.finished:
        return
    last = progress.last_completed
    if run.sub_status == "completed" and last:
        metrics = progress.completed.get(last, {})
        yield _report(run, ReportKind.COMPLETED, last, metrics=metrics)
    elif run.sub_status == "failed" and run.details.startswith(APP_RAISED):
        error = progress.error or run.details
        reason = f"the app failed in Flower run {run.run_id}: {error}"
        if error.startswith(_MISSING):
            reason += f" ({MISSING_HINT})"
        yield _report(run, ReportKind.FAILED, last, message=reason)
