"""The SDK's controller: standalone outside the reconciler, reports and checkpoints inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flwr.app import ArrayRecord, Context, RecordDict

from reconciler.flowerapp.settings import Control, Pointer
from reconciler.runtime.progress import (
    Directive,
    ProgressRejected,
    ProgressReport,
    ProgressUnauthorised,
    ReportKind,
)
from reconciler.sdk import APP_CONTROL_KEY, Controller, checkpoint_bytes, load_checkpoint


class Sink:
    def __init__(self, answer: Directive = Directive.CONTINUE) -> None:
        self.answer = answer
        self.reports: list[ProgressReport] = []

    def report(self, r: ProgressReport) -> Directive:
        self.reports.append(r)
        return self.answer


def context(control: str) -> Context:
    return Context(
        run_id=42,
        node_id=0,
        node_config={},
        state=RecordDict(),
        run_config={APP_CONTROL_KEY: control, "num-server-rounds": 3},
    )


def arrays() -> ArrayRecord:
    # Keys "0", "1", ..., "10": a string sort would put "10" before "2".
    return ArrayRecord([np.full(i + 1, float(i)) for i in range(11)])


def test_checkpoints_keep_the_records_order_and_are_reproducible(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    path.write_bytes(checkpoint_bytes(arrays()))
    loaded = load_checkpoint(path)
    assert list(loaded.keys()) == [str(i) for i in range(11)]
    for a, b in zip(loaded.to_numpy_ndarrays(), arrays().to_numpy_ndarrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert checkpoint_bytes(loaded) == checkpoint_bytes(arrays())


def test_outside_the_reconciler_the_controller_does_nothing() -> None:
    sink = Sink(Directive.STOP)
    controller = Controller.from_context(context(""), sink=sink)
    assert not controller.managed and controller.start_round == 1
    assert controller.round_started(1, [5]) is Directive.CONTINUE
    assert controller.round_completed(1, arrays(), {"loss": 1.0}) is Directive.CONTINUE
    assert controller.initial_arrays(arrays()) is not None
    assert sink.reports == []


def test_a_managed_run_reports_checkpoints_and_resumes(tmp_path: Path) -> None:
    control = Control("acme/sdk", 2, 1, 1, (tmp_path / "ckpt").as_uri(), str(tmp_path), "http://x")
    sink = Sink()
    first = Controller.from_context(context(control.to_json()), sink=sink)
    first.round_started(1, [7, 8])
    first.round_completed(1, arrays(), {"loss": 0.5})
    sink.answer = Directive.PAUSE
    first.round_started(2, [7])
    first.round_completed(2, arrays(), {"loss": 0.4})
    assert first.halts_after(2, total=3) and not first.halts_after(3, total=3)
    first.halted()
    kinds = [(str(r.kind), r.round, r.message) for r in sink.reports]
    assert kinds == [
        ("round_started", 1, ""),
        ("client_joined", 1, "7"),
        ("client_joined", 1, "8"),
        ("round_completed", 1, ""),
        ("checkpoint", 1, ""),
        ("round_started", 2, ""),
        ("client_dropped", 2, "8"),
        ("round_completed", 2, ""),
        ("checkpoint", 2, ""),
        ("paused", 2, ""),
    ]
    paused = sink.reports[-1]
    assert paused.artifact is not None and paused.artifact.uri.endswith("round-0002.npz")
    assert {(r.federation, r.generation, r.run_id) for r in sink.reports} == {("acme/sdk", 2, 42)}

    resume = Pointer(paused.artifact.uri, paused.artifact.sha256)
    again = Control(**{**control.__dict__, "attempt": 2, "start_round": 3, "resume_from": resume})
    second = Controller.from_context(context(again.to_json()), sink=Sink())
    start = second.initial_arrays(ArrayRecord([np.zeros(1)]))
    assert second.start_round == 3 and list(start.keys()) == list(arrays().keys())
    assert second.checkpoint == paused.artifact


def test_completion_carries_the_final_checkpoint(tmp_path: Path) -> None:
    control = Control("acme/sdk", 1, 1, 1, (tmp_path / "c").as_uri(), str(tmp_path), "u")
    sink = Sink()
    controller = Controller.from_context(context(control.to_json()), sink=sink)
    controller.round_completed(1, arrays(), {"loss": 0.1})
    controller.completed()
    done = sink.reports[-1]
    assert (done.kind, done.round, dict(done.metrics)) == (ReportKind.COMPLETED, 1, {"loss": 0.1})
    assert done.artifact is not None
    assert done.artifact.sha256 == sink.reports[-2].artifact.sha256  # type: ignore[union-attr]


def test_the_sdk_exports_exactly_its_public_names() -> None:
    import reconciler.sdk as sdk

    public = {name for name in dir(sdk) if not name.startswith("_")} - {"controller", "strategy"}
    assert public == set(sdk.__all__)
    assert sorted(sdk.__all__) == [
        "APP_CONTROL_KEY",
        "ControlledStrategy",
        "Controller",
        "Directive",
        "PROCESSED_METRIC",
        "RunHalted",
        "answer_label_queries",
        "checkpoint_bytes",
        "load_checkpoint",
    ]


def test_a_refused_report_is_logged_and_a_refused_token_raises(tmp_path: Path) -> None:
    class Refusing(Sink):
        def __init__(self, error: ProgressRejected) -> None:
            super().__init__()
            self.error = error

        def report(self, r: ProgressReport) -> Directive:
            super().report(r)
            raise self.error

    control = Control("acme/sdk", 1, 1, 1, (tmp_path / "c").as_uri(), str(tmp_path), "u")
    stop = ProgressRejected("no", status=409, reason="superseded", directive=Directive.STOP)
    controller = Controller.from_context(context(control.to_json()), sink=Refusing(stop))
    assert controller.round_started(1, [1]) is Directive.STOP
    assert controller.refused == 2  # round_started and the client's report, both logged

    bad = ProgressRejected("HTTP 401", status=401, reason="bad-token")
    controller = Controller.from_context(context(control.to_json()), sink=Refusing(bad))
    with pytest.raises(ProgressUnauthorised, match="progress key does not match"):
        controller.round_started(1)
    controller.failed("the run ends")  # reporting the failure does not raise again
