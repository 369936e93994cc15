"""`check_report`, the pure part of the progress sink: one table of what the daemon knows and
what a report says, with the refusal each one gets (or none)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.daemon.sink import Known, check_report
from reconciler.model import Phase
from reconciler.runtime.progress import ArtifactInfo, Directive, ProgressReport, ReportKind

K = ReportKind
BASE = "file:///srv/artifacts/fl-checkpoints/acme/digits/g3"
SHA = "ab" * 32
KNOWN = Known(
    phase=Phase.RUNNING,
    current=(3, 2),
    launching=(3, 3),
    run_id=77,
    total=5,
    start_round=2,  # a resumed attempt: round 1 was done by attempt 1
    rounds={1: "completed", 2: "completed", 3: "started"},
    base=BASE,
)


def report(kind: ReportKind, rnd: int, **more: object) -> ProgressReport:
    fields: dict[str, object] = {"federation": "acme/digits", "generation": 3, "attempt": 2}
    fields |= {"run_id": 77, "kind": kind, "round": rnd, **more}
    return ProgressReport(**fields)  # type: ignore[arg-type]


def ckpt(uri: str = f"{BASE}/round-0002.npz", sha: str = SHA, size: int = 10) -> ArtifactInfo:
    return ArtifactInfo(uri, sha, size)


ACCEPTED = [
    ("round 3 completed", KNOWN, report(K.ROUND_COMPLETED, 3)),
    ("round 4 after 3 completed", replace(KNOWN, rounds={3: "completed"}), report(K.ROUND_STARTED, 4)),
    ("the start round, first", replace(KNOWN, rounds={}), report(K.ROUND_STARTED, 2)),
    ("round 3 started again (a retry)", KNOWN, report(K.ROUND_STARTED, 3)),
    ("checkpoint of round 2", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt())),
    ("client of round 3", KNOWN, report(K.CLIENT_JOINED, 3, message="1234")),
    ("paused after round 2", replace(KNOWN, phase=Phase.PAUSED), report(K.PAUSED, 2)),
    ("failed in round 3", KNOWN, report(K.FAILED, 3, message="boom")),
    (
        "completed after round 5",
        replace(KNOWN, rounds={5: "completed"}),
        report(K.COMPLETED, 5, artifact=ckpt(f"{BASE}/round-0005.npz")),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("known", "r"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_reports_that_agree_with_the_record_pass(known: Known, r: ProgressReport) -> None:
    assert check_report(known, r) is None


REFUSED = [
    ("an attempt not recorded yet", KNOWN, replace(report(K.ROUND_STARTED, 4), attempt=3), 503, "not-recorded-yet"),
    ("an older attempt", KNOWN, replace(report(K.ROUND_STARTED, 4), attempt=1), 409, "superseded"),
    ("another generation", KNOWN, replace(report(K.ROUND_STARTED, 4), generation=2), 409, "superseded"),
    ("no run recorded", replace(KNOWN, run_id=None), report(K.ROUND_STARTED, 4), 503, "not-recorded-yet"),
    ("another run", KNOWN, replace(report(K.ROUND_STARTED, 4), run_id=78), 409, "wrong-run"),
    ("a finished federation", replace(KNOWN, phase=Phase.COMPLETED), report(K.FAILED, 3), 409, "attempt-finished"),
    ("a stopped federation", replace(KNOWN, phase=Phase.STOPPED), report(K.CHECKPOINT, 2, artifact=ckpt()), 409, "attempt-finished"),
    ("negative round", KNOWN, report(K.FAILED, -1), 422, "bad-round"),
    ("past rounds.total", KNOWN, report(K.ROUND_STARTED, 6), 422, "past-total"),
    ("below the start round", KNOWN, report(K.ROUND_COMPLETED, 1), 409, "before-start"),
    ("a client below the start round", KNOWN, report(K.CLIENT_JOINED, 1, message="5"), 409, "before-start"),
    ("skipping round 4", KNOWN, report(K.ROUND_STARTED, 5), 409, "out-of-order"),
    ("round 4 before 3 completed", KNOWN, report(K.ROUND_STARTED, 4), 409, "out-of-order"),
    ("completing an unstarted round", KNOWN, report(K.ROUND_COMPLETED, 4), 409, "out-of-order"),
    ("checkpoint of a round not completed", KNOWN, report(K.CHECKPOINT, 3, artifact=ckpt()), 409, "out-of-order"),
    ("checkpoint without artifact", KNOWN, report(K.CHECKPOINT, 2), 422, "malformed"),
    ("checkpoint outside the folder", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt("file:///etc/passwd")), 403, "foreign-artifact"),
    ("checkpoint of generation 2's folder", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt(BASE[:-1] + "2/r.npz")), 403, "foreign-artifact"),
    ("checkpoint with ..", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt(f"{BASE}/../g2/r.npz")), 403, "foreign-artifact"),
    ("checkpoint with %2e%2e", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt(f"{BASE}/%2e%2e/g2/r.npz")), 403, "foreign-artifact"),
    ("checkpoint with a bad digest", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt(sha="nope")), 422, "malformed"),
    ("checkpoint with a negative size", KNOWN, report(K.CHECKPOINT, 2, artifact=ckpt(size=-1)), 422, "malformed"),
    ("checkpoint without a folder", replace(KNOWN, base=None, base_problem="bad prefix"), report(K.CHECKPOINT, 2, artifact=ckpt()), 422, "foreign-artifact"),
    ("client without node id", KNOWN, report(K.CLIENT_DROPPED, 3), 422, "malformed"),
    ("completed before the last round", KNOWN, report(K.COMPLETED, 3), 409, "completed-early"),
    ("completed, last round only started", replace(KNOWN, rounds={5: "started"}), report(K.COMPLETED, 5), 409, "completed-early"),
    ("completed with a foreign artifact", replace(KNOWN, rounds={5: "completed"}), report(K.COMPLETED, 5, artifact=ckpt("s3://b/x")), 403, "foreign-artifact"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("known", "r", "status", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_reports_that_contradict_the_record_are_refused(
    known: Known, r: ProgressReport, status: int, reason: str
) -> None:
    refusal = check_report(known, r)
    assert refusal is not None
    assert (refusal.status, refusal.reason) == (status, reason)


def test_a_run_that_cannot_count_any_more_is_told_to_stop() -> None:
    for r, known in (
        (replace(report(K.ROUND_STARTED, 4), attempt=1), KNOWN),
        (replace(report(K.ROUND_STARTED, 4), run_id=78), KNOWN),
        (report(K.FAILED, 3), replace(KNOWN, phase=Phase.FAILED)),
        (report(K.ROUND_STARTED, 6), KNOWN),
    ):
        refusal = check_report(known, r)
        assert refusal is not None and refusal.directive is Directive.STOP, refusal
    refusal = check_report(KNOWN, report(K.ROUND_STARTED, 5))
    assert refusal is not None and refusal.directive is None  # the sink adds the phase's
