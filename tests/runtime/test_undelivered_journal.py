"""The journal a run leaves when the daemon cannot be reached at its end: sealed with the run's
token, so the daemon trusts exactly what that run wrote; and the client's last tries."""

from __future__ import annotations

import json

import pytest

from reconciler.runtime.progress import (
    MAX_JOURNAL,
    ProgressClient,
    ProgressReport,
    ReportKind,
    make_token,
    open_journal,
    seal_journal,
)

KEY = b"k" * 32
RUN = 41
TOKEN = make_token(KEY, "acme/digits", 2, 1, RUN)


def report(kind: ReportKind, rnd: int, run_id: int = RUN, **more: object) -> ProgressReport:
    return ProgressReport("acme/digits", 2, 1, run_id, kind, rnd, **more)  # type: ignore[arg-type]


REPORTS = [
    report(ReportKind.ROUND_STARTED, 3),
    report(ReportKind.ROUND_COMPLETED, 3, metrics={"accuracy": 0.8}),
]


def test_a_sealed_journal_opens_to_the_same_reports_in_order() -> None:
    assert open_journal(seal_journal(TOKEN, RUN, REPORTS), TOKEN, RUN) == REPORTS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda body: body["reports"][1]["metrics"].update(accuracy=1.0), "seal does not match"),
        (lambda body: body["reports"].pop(0), "seal does not match"),
        (lambda body: body.update(run_id=RUN + 1), "not sealed for this run"),
        (lambda body: body.pop("mac"), "not sealed for this run"),
        (lambda body: body.update(reports="x"), "list of reports"),
    ],
    ids=["metrics-changed", "report-removed", "other-run", "no-seal", "not-a-list"],
)
def test_a_changed_journal_is_refused(change, message: str) -> None:  # type: ignore[no-untyped-def]
    body = json.loads(seal_journal(TOKEN, RUN, REPORTS))
    change(body)
    with pytest.raises(ValueError, match=message):
        open_journal(json.dumps(body).encode(), TOKEN, RUN)


def test_a_journal_sealed_with_another_runs_token_is_refused() -> None:
    other = make_token(KEY, "acme/digits", 2, 1, RUN + 1)
    with pytest.raises(ValueError, match="seal does not match"):
        open_journal(seal_journal(other, RUN, REPORTS), TOKEN, RUN)


def test_a_journal_holding_another_runs_report_is_refused() -> None:
    sealed = seal_journal(TOKEN, RUN, [*REPORTS, report(ReportKind.COMPLETED, 5, run_id=7)])
    with pytest.raises(ValueError, match="another run"):
        open_journal(sealed, TOKEN, RUN)


def test_an_oversized_journal_is_refused_before_parsing() -> None:
    with pytest.raises(ValueError, match="larger than"):
        open_journal(b" " * (MAX_JOURNAL + 1), TOKEN, RUN)


def test_the_token_is_not_in_the_journal() -> None:
    assert TOKEN.encode() not in seal_journal(TOKEN, RUN, REPORTS)


def test_flush_gives_up_after_its_budget_and_keeps_the_reports() -> None:
    client = ProgressClient("http://127.0.0.1:9/v1/progress", TOKEN, delays=(0.01,), timeout=0.2)
    for r in REPORTS:
        client.report(r)
    assert client.flush(0.1, pause=0.02) is False
    assert client.undelivered == tuple(REPORTS)
    assert open_journal(client.sealed_undelivered(RUN), TOKEN, RUN) == REPORTS
