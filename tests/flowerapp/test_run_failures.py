"""How a ServerApp run ends when something goes wrong: a verdict, or a run left to recovery."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.artifacts import ArtifactNotFound, StoreUnavailable
from reconciler.flowerapp.server import FederationFailed, FederationRun
from reconciler.flowerapp.settings import Control
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind

CONTROL = Control("acme/digits", 1, 1, 1, "file:///tmp/ckpt", "/tmp", "http://x/")


class Sink:
    def __init__(self) -> None:
        self.reports: list[ProgressReport] = []

    def report(self, r: ProgressReport) -> Directive:
        self.reports.append(r)
        return Directive.CONTINUE


def run_raising(error: Exception, monkeypatch: pytest.MonkeyPatch) -> Sink:
    sink = Sink()
    run = FederationRun(grid=None, control=CONTROL, sink=sink, run_id=7)  # type: ignore[arg-type]

    def fail(*_: Any) -> None:
        raise error

    monkeypatch.setattr(run, "_run", fail)
    monkeypatch.setattr("reconciler.flowerapp.server.parse_plan", lambda doc: doc)
    with pytest.raises(type(error) if isinstance(error, StoreUnavailable) else FederationFailed):
        run.run("{}")
    return sink


def test_a_store_that_is_down_leaves_the_run_to_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = run_raising(StoreUnavailable("s3 timed out"), monkeypatch)
    assert [r.kind for r in sink.reports] == []  # no verdict: the planner recovers the run


def test_a_missing_object_fails_the_federation(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = run_raising(ArtifactNotFound("no bucket 'b'"), monkeypatch)
    assert [r.kind for r in sink.reports] == [ReportKind.FAILED]
    assert "no bucket" in sink.reports[0].message
