"""Round progress of an app without the SDK, read from Flower's log lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from reconciler.daemon.conditions import Findings, derive
from reconciler.model import (
    DEFAULT_TARGET,
    ConditionType,
    FederationKey,
    Phase,
    RecordedFederation,
    RunObservation,
)
from reconciler.runtime.base import RunNotFound
from reconciler.runtime.logprogress import Follow, LogFollower, LogProgress, parse_log
from reconciler.runtime.progress import Directive, ProgressReport
from reconciler.specs.apps import spec_app

KEY = FederationKey("acme", "quickstart")


def flower(message: str) -> str:
    """A line as Flower's logger writes it into a run's log (with colour codes)."""
    return f"\x1b[92mINFO \x1b[0m:      {message}"


# Excerpt of a real run of examples/apps/quickstart-numpy (flwr 1.42, 2 rounds).
TWO_ROUNDS = [
    flower("Start `flwr-serverapp` process"),
    "Successfully installed quickstart-numpy to /tmp/flwr-home/apps/acme.quickstart-numpy.1.0.0.",
    flower("Starting FedAvg strategy:"),
    flower("\t├── Number of rounds: 2"),
    flower(""),
    flower("[ROUND 1/2]"),
    flower("configure_train: Sampled 2 nodes (out of 2)"),
    flower("aggregate_train: Received 2 results and 0 failures"),
    flower("\t└──> Aggregated MetricRecord: {'train_loss': 0.0179}"),
    flower("configure_evaluate: Sampled 2 nodes (out of 2)"),
    flower("\t└──> Aggregated MetricRecord: {'eval_loss': 0.0165}"),
    flower(""),
    flower("[ROUND 2/2]"),
    flower("\t└──> Aggregated MetricRecord: {'train_loss': 0.0085}"),
    flower("\t└──> Aggregated MetricRecord: {'eval_loss': 0.0087}"),
    flower(""),
    flower("Strategy execution finished in 50.92s"),
    flower("\t{1: {'train_loss': '1.7903e-02'}, 2: {'train_loss': '8.5373e-03'}}"),
    "Final model: weights=[1.493, -1.995, 0.494, 2.988] bias=[0.708]",
]
MISSING_MODULE = [
    flower("Start `flwr-serverapp` process"),
    "\x1b[91mERROR \x1b[0m:     ServerApp raised an exception",
    "Traceback (most recent call last):",
    '  File "/apps/quickstart_numpy/server_app.py", line 1, in <module>',
    "    import torch",
    "ModuleNotFoundError: No module named 'torch'",
    "\x1b[91mERROR \x1b[0m:     Exit Code: 607",
]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param([], LogProgress(), id="no log yet"),
        pytest.param(
            TWO_ROUNDS[:7],
            LogProgress(total=2, started=(1,), completed={}),
            id="round 1 running",
        ),
        pytest.param(
            TWO_ROUNDS[:14],
            LogProgress(
                total=2,
                started=(1, 2),
                completed={1: {"train/train_loss": 0.0179, "eval/eval_loss": 0.0165}},
            ),
            id="round 1 done when round 2 starts",
        ),
        pytest.param(
            TWO_ROUNDS,
            LogProgress(
                total=2,
                started=(1, 2),
                completed={
                    1: {"train/train_loss": 0.0179, "eval/eval_loss": 0.0165},
                    2: {"train/train_loss": 0.0085, "eval/eval_loss": 0.0087},
                },
            ),
            id="finished",
        ),
        pytest.param(
            MISSING_MODULE,
            LogProgress(error="ModuleNotFoundError: No module named 'torch'"),
            id="missing dependency",
        ),
        pytest.param(
            [flower("[ROUND 1/3]"), flower("\t└──> Aggregated MetricRecord: {broken")],
            LogProgress(total=3, started=(1,)),
            id="unreadable metrics are skipped",
        ),
    ],
)
def test_parse_log(lines: list[str], expected: LogProgress) -> None:
    assert parse_log(lines) == expected


# One round of a FedAvg app whose train and evaluate records share key names, with
# list-valued metrics and a central evaluate_fn (flwr 1.42 Strategy.start's lines).
SAME_NAMES = [
    flower("[ROUND 1/1]"),
    flower("configure_train: Sampled 2 nodes (out of 2)"),
    flower("aggregate_train: Received 2 results and 0 failures"),
    flower("\t└──> Aggregated MetricRecord: {'loss': 0.52, 'acc': [0.1, 0.4], 'num': 2}"),
    flower("configure_evaluate: Sampled 2 nodes (out of 2)"),
    flower("aggregate_evaluate: Received 2 results and 0 failures"),
    flower("\t└──> Aggregated MetricRecord: {'loss': 0.61, 'acc': [], 'note': 'x'}"),
    flower("Global evaluation"),
    flower("\t└──> MetricRecord: {'loss': 0.7}"),
    flower(""),
    flower("Strategy execution finished in 3.10s"),
]


# A ServerApp with its own loop on Flower's DefaultWorkflow (flwr 1.42,
# flwr/server/workflow/default_workflows.py): "[ROUND r]" without a total, and the count of
# rounds in its "Run finished" line.
WORKFLOW = [
    flower("[INIT]"),
    flower("Requesting initial parameters from one random client"),
    flower(""),
    flower("[ROUND 1]"),
    flower("configure_fit: strategy sampled 2 clients (out of 2)"),
    flower("aggregate_fit: received 2 results and 0 failures"),
    flower("configure_evaluate: strategy sampled 2 clients (out of 2)"),
    flower("aggregate_evaluate: received 2 results and 0 failures"),
    flower(""),
    flower("[ROUND 2]"),
    flower("configure_fit: strategy sampled 2 clients (out of 2)"),
    flower(""),
    flower("[SUMMARY]"),
    flower("Run finished 2 round(s) in 4.21s"),
    flower("\tHistory (loss, distributed):"),
    flower("\t\tround 1: 0.52"),
]


def test_an_app_with_its_own_loop_counts_the_rounds_its_log_shows() -> None:
    assert parse_log(WORKFLOW[:10]) == LogProgress(started=(1, 2), completed={1: {}})
    assert parse_log(WORKFLOW) == LogProgress(total=2, started=(1, 2), completed={1: {}, 2: {}})


def test_an_app_with_its_own_loop_completes_at_the_round_its_log_ends() -> None:
    sink = follow(WORKFLOW, run("finished", "completed"))
    assert sink.kinds() == [
        ("round_started", 1),
        ("round_completed", 1),
        ("round_started", 2),
        ("round_completed", 2),
        ("completed", 2),
    ]


@pytest.mark.parametrize(
    ("current", "message"),
    [
        pytest.param(0, "completed; the app's log showed 0 of 1 rounds", id="a silent loop"),
        pytest.param(1, "completed 1 rounds", id="every round shown"),
    ],
)
def test_the_ready_message_claims_only_the_rounds_recorded(current: int, message: str) -> None:
    done = replace(record(Phase.COMPLETED), current_round=current, total_rounds=1)
    [ready] = [c for c in derive(done, Findings(), {}, "t") if c.type is ConditionType.READY]
    assert (ready.status, ready.message) == ("True", message)


def test_train_and_evaluate_metrics_of_the_same_name_are_kept_apart() -> None:
    progress = parse_log(SAME_NAMES)
    assert progress.completed == {
        1: {
            "train/loss": 0.52,
            "train/acc": 0.4,  # a list counts as its last value
            "train/num": 2.0,
            "eval/loss": 0.61,
            "server-eval/loss": 0.7,
        }
    }
    assert progress.skipped == {1: ("eval/acc", "eval/note")}


def test_an_evaluate_record_without_its_configure_line_is_still_evaluate() -> None:
    lines = [line for line in SAME_NAMES if "configure_evaluate" not in line]
    lines = [line for line in lines if "aggregate_evaluate" not in line]
    assert parse_log(lines).completed[1]["eval/loss"] == 0.61


def test_skipped_metrics_are_named_in_the_rounds_report() -> None:
    sink = follow(SAME_NAMES, run())
    completed = [r for r in sink.reports if r.kind == "round_completed"]
    assert [r.message for r in completed] == ["metrics skipped (not numbers): eval/acc, eval/note"]
    assert completed[0].metrics["train/acc"] == 0.4


class FakeLogs:
    """A runtime that only serves logs."""

    def __init__(self, logs: Mapping[int, list[str]]) -> None:
        self._logs = logs
        self.asked: list[int] = []

    def logs(self, run_id: int, *, after: float = 0, target: str = DEFAULT_TARGET) -> list[str]:
        assert target == DEFAULT_TARGET  # the run's own target (RunObservation.target)
        self.asked.append(run_id)
        if run_id not in self._logs:
            raise RunNotFound(f"run {run_id} not found")
        return self._logs[run_id]


class Sink:
    def __init__(self) -> None:
        self.reports: list[ProgressReport] = []

    def report(self, r: ProgressReport) -> Directive:
        self.reports.append(r)
        return Directive.CONTINUE

    def kinds(self) -> list[tuple[str, int]]:
        return [(str(r.kind), r.round) for r in self.reports]


def record(phase: Phase = Phase.RUNNING, attempt: int = 1) -> RecordedFederation:
    document: dict[str, Any] = {"spec": {"app": {"path": "apps/quickstart-numpy"}}}
    return RecordedFederation(
        key=KEY,
        path="specs/acme/quickstart.yaml",
        document=document,
        digest="d",
        generation=1,
        observed_generation=1,
        phase=phase,
        attempt=attempt,
        run_generation=1,
    )


def run(status: str = "running", sub: str = "", details: str = "") -> RunObservation:
    return RunObservation(KEY, 7, 1, 1, status, sub, details)


def follow(
    lines: list[str], observation: RunObservation, *, mode: Follow = Follow.ROUNDS, **rec: Any
) -> Sink:
    sink = Sink()
    follower = LogFollower(FakeLogs({7: lines}), sink, lambda document: mode)
    follower.follow({KEY: record(**rec)}, {KEY: observation})
    return sink


def test_rounds_are_reported_as_they_appear_and_only_once() -> None:
    sink = Sink()
    logs: dict[int, list[str]] = {7: TWO_ROUNDS[:7]}
    follower = LogFollower(FakeLogs(logs), sink, lambda document: Follow.ROUNDS)
    assert follower.follow({KEY: record()}, {KEY: run()})
    logs[7] = TWO_ROUNDS[:14]
    follower.follow({KEY: record()}, {KEY: run()})
    assert not follower.follow({KEY: record()}, {KEY: run()})  # nothing new
    assert sink.kinds() == [("round_started", 1), ("round_completed", 1), ("round_started", 2)]
    assert sink.reports[1].metrics == {"train/train_loss": 0.0179, "eval/eval_loss": 0.0165}
    assert {(r.federation, r.generation, r.attempt, r.run_id) for r in sink.reports} == {
        ("acme/quickstart", 1, 1, 7)
    }


def test_a_completed_run_reports_its_last_round_and_metrics() -> None:
    sink = follow(TWO_ROUNDS, run("finished", "completed"))
    assert sink.kinds()[-1] == ("completed", 2)
    assert sink.reports[-1].metrics == {"train/train_loss": 0.0085, "eval/eval_loss": 0.0087}


def test_a_missing_dependency_fails_the_federation_with_the_apps_error() -> None:
    details = "ServerApp failed with exception: No module named 'torch'"
    sink = follow(MISSING_MODULE, run("finished", "failed", details))
    assert sink.kinds() == [("failed", 0)]
    message = sink.reports[0].message
    assert "ModuleNotFoundError: No module named 'torch'" in message
    assert "not installed where Flower runs it" in message


def test_a_lost_heartbeat_is_left_to_recovery() -> None:
    sink = follow(TWO_ROUNDS[:7], run("finished", "failed", "No heartbeat received from the task"))
    assert sink.kinds() == [("round_started", 1)]


def test_an_sdk_app_is_followed_only_for_a_failure_it_could_not_report() -> None:
    details = "ServerApp failed with exception: No module named 'torch'"
    assert follow(TWO_ROUNDS, run(), mode=Follow.FAILURES).kinds() == []
    done = follow(TWO_ROUNDS, run("finished", "completed"), mode=Follow.FAILURES)
    assert done.kinds() == []
    failed = follow(MISSING_MODULE, run("finished", "failed", details), mode=Follow.FAILURES)
    assert failed.kinds() == [("failed", 0)]


@pytest.mark.parametrize(
    ("mode", "phase", "attempt"),
    [
        pytest.param(Follow.NOTHING, Phase.RUNNING, 1, id="built-in app"),
        pytest.param(Follow.ROUNDS, Phase.PAUSED, 1, id="not active"),
        pytest.param(Follow.ROUNDS, Phase.COMPLETED, 1, id="already ended"),
        pytest.param(Follow.ROUNDS, Phase.RUNNING, 2, id="a superseded attempt"),
    ],
)
def test_runs_that_need_no_logs_are_not_read(mode: Follow, phase: Phase, attempt: int) -> None:
    runtime = FakeLogs({7: TWO_ROUNDS})
    follower = LogFollower(runtime, Sink(), lambda document: mode)
    assert not follower.follow({KEY: record(phase, attempt)}, {KEY: run()})
    assert runtime.asked == []


def test_unreadable_logs_are_skipped_until_the_next_cycle() -> None:
    sink = Sink()
    follower = LogFollower(FakeLogs({}), sink, lambda document: Follow.ROUNDS)
    assert not follower.follow({KEY: record()}, {KEY: run()})
    assert sink.reports == []


def test_the_mode_of_the_built_in_app_is_asked_once_per_document() -> None:
    asked: list[Mapping[str, Any]] = []

    def mode(document: Mapping[str, Any]) -> Follow:
        asked.append(document)
        return Follow.ROUNDS if spec_app(document) else Follow.NOTHING

    follower = LogFollower(FakeLogs({7: TWO_ROUNDS}), Sink(), mode)
    built_in = replace(record(), document={"spec": {}}, digest="built-in")
    for _ in range(3):
        assert not follower.follow({KEY: built_in}, {KEY: run()})
    assert len(asked) == 1
    for _ in range(2):  # an app's folder may change with the checkout: asked every cycle
        follower.follow({KEY: record()}, {KEY: run()})
    assert len(asked) == 3


def test_runs_are_followed_in_federation_order() -> None:
    sink = Sink()
    keys = [FederationKey("zeta", "b"), FederationKey("acme", "a"), FederationKey("acme", "c")]
    recorded = {key: replace(record(), key=key) for key in keys}
    observed = {key: replace(run(), key=key, run_id=7 + n) for n, key in enumerate(keys)}
    logs = {7 + n: TWO_ROUNDS[:7] for n in range(len(keys))}
    LogFollower(FakeLogs(logs), sink, lambda document: Follow.ROUNDS).follow(recorded, observed)
    assert [r.federation for r in sink.reports] == ["acme/a", "acme/c", "zeta/b"]
