"""How a ServerApp run ends when something goes wrong: a verdict, or a run left to recovery."""

from __future__ import annotations

from typing import Any

import pytest
from flwr.common.constant import ErrorCode

from reconciler.artifacts import ArtifactNotFound, StoreUnavailable
from reconciler.flowerapp.exchange import NodesLost
from reconciler.flowerapp.server import FederationFailed, FederationRun
from reconciler.flowerapp.settings import Control
from reconciler.runtime.progress import Directive, ProgressRejected, ProgressReport, ReportKind

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


class Refusing(Sink):
    """Refuses reports of the given kinds the way ProgressClient reports a 4xx."""

    def __init__(self, kinds: dict[ReportKind, ProgressRejected]) -> None:
        super().__init__()
        self.kinds = kinds

    def report(self, r: ProgressReport) -> Directive:
        super().report(r)
        if r.kind in self.kinds:
            raise self.kinds[r.kind]
        return Directive.CONTINUE


def test_a_refused_report_is_logged_and_the_run_goes_on() -> None:
    refused = ProgressRejected("no", status=409, reason="out-of-order")
    sink = Refusing({ReportKind.CHECKPOINT: refused})
    run = FederationRun(grid=None, control=CONTROL, sink=sink, run_id=7)  # type: ignore[arg-type]

    assert run.report(ReportKind.CHECKPOINT, 1) is Directive.CONTINUE
    assert run.report(ReportKind.ROUND_STARTED, 2) is Directive.CONTINUE  # still reporting
    assert run.refused == 1
    assert [r.kind for r in sink.reports] == [ReportKind.CHECKPOINT, ReportKind.ROUND_STARTED]


def test_a_refusal_with_a_directive_is_obeyed() -> None:
    stop = ProgressRejected("no", status=409, reason="superseded", directive=Directive.STOP)
    sink = Refusing({ReportKind.ROUND_STARTED: stop})
    run = FederationRun(grid=None, control=CONTROL, sink=sink, run_id=7)  # type: ignore[arg-type]

    assert run.report(ReportKind.ROUND_STARTED, 2) is Directive.STOP


def test_a_refused_token_fails_the_run_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    unauthorised = ProgressRejected("HTTP 401 (bad-token)", status=401, reason="bad-token")
    sink = Refusing({kind: unauthorised for kind in ReportKind})
    run = FederationRun(grid=None, control=CONTROL, sink=sink, run_id=7)  # type: ignore[arg-type]
    monkeypatch.setattr(run, "_run", lambda plan: run.report(ReportKind.ROUND_STARTED, 1))
    monkeypatch.setattr("reconciler.flowerapp.server.parse_plan", lambda doc: doc)

    with pytest.raises(FederationFailed, match="progress key does not match"):
        run.run("{}")
    # It tried to report its failure too (refused as well), and did not loop.
    assert [r.kind for r in sink.reports] == [ReportKind.ROUND_STARTED, ReportKind.FAILED]


class Reply:
    """What `_raise_client_errors` reads of a reply: its error and its sender."""

    def __init__(self, node: int, code: int = 0, reason: str = "") -> None:
        self.metadata = type("Metadata", (), {"src_node_id": node})()
        self.error = type("Error", (), {"code": code, "reason": reason})()

    def has_error(self) -> bool:
        return bool(self.error.code)


def test_supernodes_lost_mid_round_are_dropped_and_leave_the_run_to_recovery() -> None:
    sink = Sink()
    run = FederationRun(grid=None, control=CONTROL, sink=sink, run_id=7)  # type: ignore[arg-type]
    replies = [Reply(11), Reply(12, ErrorCode.NODE_UNAVAILABLE, "Error: Node Unavailable")]

    with pytest.raises(NodesLost, match="12 stopped answering"):
        run._raise_client_errors(replies, 2)  # type: ignore[arg-type]

    assert [(r.kind, r.message) for r in sink.reports] == [(ReportKind.CLIENT_DROPPED, "12")]


def test_a_clientapp_error_still_fails_the_federation() -> None:
    run = FederationRun(grid=None, control=CONTROL, sink=Sink(), run_id=7)  # type: ignore[arg-type]
    replies = [Reply(11, ErrorCode.CLIENT_APP_RAISED_EXCEPTION, "boom")]

    with pytest.raises(FederationFailed, match="a SuperNode failed: boom"):
        run._raise_client_errors(replies, 2)  # type: ignore[arg-type]
