"""The fake runtime behaves like the Flower driver for the layers above it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import FederationKey
from reconciler.runtime.base import (
    Artifact,
    RunNotFound,
    RunRejected,
    RunRequest,
    RuntimeUnavailable,
)
from reconciler.runtime.fake import FakeRuntime
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind

KEY = FederationKey("acme", "digits")
CHECKPOINTS = "file:///c"  # each test gets its own folder (the fake writes real checkpoints)


@pytest.fixture(autouse=True)
def _checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CHECKPOINTS", tmp_path.as_uri())


class Sink:
    def __init__(self) -> None:
        self.reports: list[ProgressReport] = []
        self.directive = Directive.CONTINUE
        self.from_kind = ReportKind.ROUND_STARTED
        self._armed = False

    def report(self, r: ProgressReport) -> Directive:
        """Answers `directive` from the first report of kind `from_kind` on."""
        self.reports.append(r)
        self._armed = self._armed or r.kind == self.from_kind
        return self.directive if self._armed else Directive.CONTINUE

    def kinds(self) -> list[tuple[str, int]]:
        return [(str(r.kind), r.round) for r in self.reports if r.kind != ReportKind.CLIENT_JOINED]


def _req(attempt: int = 1, start_round: int = 1, **spec: Any) -> RunRequest:
    document = {
        "spec": {
            "modelRef": {"uri": "m.npz"},
            "rounds": {"total": 2},
            "datasetSpec": {"shards": [{"uri": "s.npz"}]},
            **spec,
        }
    }
    resume = Artifact("file:///c/round-0001.npz", "a" * 64) if start_round > 1 else None
    return RunRequest(
        key=KEY,
        generation=1,
        attempt=attempt,
        document=document,
        checkpoint_base=CHECKPOINTS,
        repo_root="/r",
        progress_url="http://x",
        start_round=start_round,
        resume_from=resume,
    )


def test_advance_plays_rounds_to_completion() -> None:
    sink = Sink()
    fake = FakeRuntime(sink)
    run_id = fake.submit(_req())
    fake.advance(run_id)
    fake.advance(run_id)
    assert sink.kinds() == [
        ("round_started", 1),
        ("round_completed", 1),
        ("checkpoint", 1),
        ("round_started", 2),
        ("round_completed", 2),
        ("checkpoint", 2),
        ("completed", 2),
    ]
    assert [(o.status, o.sub_status) for o in fake.observe()] == [("finished", "completed")]
    assert sink.reports[-1].artifact is not None
    with pytest.raises(RunNotFound):
        fake.advance(run_id)


def test_pause_directive_ends_the_run_and_resume_continues() -> None:
    sink = Sink()
    fake = FakeRuntime(sink)
    first = fake.submit(_req())
    sink.directive, sink.from_kind = Directive.PAUSE, ReportKind.CHECKPOINT
    assert fake.advance(first) == Directive.PAUSE
    assert sink.kinds()[-2:] == [("checkpoint", 1), ("paused", 1)]
    assert sink.reports[-1].artifact == sink.reports[-2].artifact
    sink.directive = Directive.CONTINUE
    second = fake.submit(_req(attempt=2, start_round=2))
    fake.advance(second)
    assert sink.kinds()[-4:] == [
        ("round_started", 2),
        ("round_completed", 2),
        ("checkpoint", 2),
        ("completed", 2),
    ]


def test_submit_adopts_the_same_attempt_and_refuses_unsupported_specs() -> None:
    fake = FakeRuntime()
    run_id = fake.submit(_req())
    assert fake.submit(_req()) == run_id
    assert fake.find_run(KEY, 1, 1) == run_id and fake.find_run(KEY, 1, 2) is None
    with pytest.raises(RunRejected, match="secureAggregation"):
        fake.submit(_req(attempt=3, privacy={"secureAggregation": {"enabled": True}}))


def test_stop_directive_at_round_start_stops_before_any_work() -> None:
    sink = Sink()
    sink.directive = Directive.STOP
    fake = FakeRuntime(sink)
    fake.advance(fake.submit(_req()))
    assert sink.kinds() == [("round_started", 1), ("stopped", 0)]


def test_fail_stop_and_unavailable() -> None:
    fake = FakeRuntime()
    a, b = fake.submit(_req()), fake.submit(_req(attempt=2))
    fake.fail(a)
    fake.stop(b)
    fake.stop(b)
    observed = {o.run_id: (o.sub_status, o.details) for o in fake.observe()}
    assert observed[a] == ("failed", "No heartbeat received from the task")
    assert observed[b] == ("stopped", "")
    fake.unavailable = True
    with pytest.raises(RuntimeUnavailable):
        fake.observe()


def test_observe_hands_back_the_same_observation_until_the_run_changes() -> None:
    fake = FakeRuntime(Sink())
    run_id = fake.submit(_req())
    (first,) = fake.observe()
    fake.advance(run_id)  # a round played, the run still running: nothing new to observe
    assert fake.observe()[0] is first
    fake.stop(run_id)
    (stopped,) = fake.observe()
    assert (stopped.status, stopped.sub_status) == ("finished", "stopped")
    assert (first.status, first.sub_status) == ("running", "")
