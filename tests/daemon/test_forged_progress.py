"""Forged progress reports against the daemon's sink, over its real HTTP endpoint, on real
PostgreSQL and Git (the in-memory Flower runtime plays the legitimate run).

Each forged report carries a token that is valid for the identity it claims (as if its
sender held the progress key): what is tested here is that the sink checks every report
against what the daemon recorded. Each one must be refused with its status code, leave the
recorded state exactly as it was (every store read compared before and after), move
`thunderline_progress_refused_total{reason}` by one and write exactly one log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import checkpoint_base
from reconciler.artifacts import open_store
from reconciler.model import FederationKey, Phase
from reconciler.runtime.progress import ArtifactInfo, ProgressReport, ReportKind, make_token
from tests.daemon.conftest import SPEC, SPEC_PATH, World

pytestmark = [pytest.mark.pg, pytest.mark.git]

KEY = FederationKey("acme", "digits-fedavg")
PROGRESS_KEY = b"progress-test-secret"  # tests/daemon/conftest.py gives the daemon this key
SINK_LOG = "reconciler.daemon.sink"
K = ReportKind


def post(world: World, r: ProgressReport, token: str | None = None) -> tuple[int, dict[str, Any]]:
    if token is None:
        token = make_token(PROGRESS_KEY, r.federation, r.generation, r.attempt, r.run_id)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{world.daemon.http.url}/v1/progress"
    request = urllib.request.Request(url, data=r.to_json(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def recorded(world: World) -> tuple[Any, ...]:
    """Everything the store says about the federation."""
    s = world.store
    events = [(e.id, e.type, dict(e.payload)) for e in s.events(limit=100_000)]
    return s.get(KEY), s.rounds(KEY), s.artifacts(KEY), s.runs(KEY), events, s.status_rows()


def refused_count(world: World, reason: str) -> float:
    value = world.daemon.metrics.registry.get_sample_value(
        "thunderline_progress_refused_total", {"reason": reason}
    )
    return value or 0.0


def put(base: str, name: str, content: bytes, tmp: Path) -> ArtifactInfo:
    """A real file under a checkpoint folder, as the ServerApp would write it."""
    local = tmp / f"upload-{hashlib.sha256(content).hexdigest()[:8]}"
    local.write_bytes(content)
    ref = open_store(base).put(local, name)
    return ArtifactInfo(ref.uri, ref.sha256, ref.size)


@dataclass
class Running:
    """A federation in round 2 of 5: round 1 played by the runtime, round 2 reported started
    and completed (not yet checkpointed) by the test, as a ServerApp would."""

    world: World
    run_id: int
    base: str  # this attempt's checkpoint folder
    root: str  # the daemon's artifact root

    def report(self, kind: ReportKind, rnd: int, **more: Any) -> ProgressReport:
        record = self.world.store.get(KEY)
        return ProgressReport(
            federation=str(KEY),
            generation=record.run_generation,
            attempt=record.attempt,
            run_id=self.run_id,
            kind=kind,
            round=rnd,
            **more,
        )


@pytest.fixture
def running(world: World) -> Running:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)  # round 1, with its checkpoint
    base = world.runtime.runs[run_id].request.checkpoint_base
    state = Running(world, run_id, base, str(world.tmp / "artifacts"))
    for kind in (K.ROUND_STARTED, K.ROUND_COMPLETED):
        assert post(world, state.report(kind, 2))[0] == 200
    world.cycle()  # let the cycles those reports asked for finish: the state is at rest
    record = world.store.get(KEY)
    assert (record.phase, record.current_round) == (Phase.RUNNING, 2)
    return state


def checkpoint(uri: str, sha256: str = "0" * 64, size: int = 0) -> dict[str, Any]:
    return {"artifact": ArtifactInfo(uri, sha256, size)}


Forgery = Callable[[Running], tuple[ProgressReport, str | None]]


def _plain(kind: ReportKind, rnd: int, **more: Any) -> Forgery:
    return lambda s: (s.report(kind, rnd, **more), None)


def _artifact(make: Callable[[Running], dict[str, Any]], rnd: int = 2) -> Forgery:
    return lambda s: (s.report(K.CHECKPOINT, rnd, **make(s)), None)


def _foreign_tenant(s: Running) -> dict[str, Any]:
    """A real, well-formed checkpoint in another tenant's folder of the same bucket."""
    document = s.world.store.get(KEY).document
    theirs = checkpoint_base(document, FederationKey("globex", KEY.name), 1, s.root)
    ref = put(theirs, "round-0002.npz", b"another tenant's model", s.world.tmp)
    return {"artifact": ref}


def _wrong_sha(s: Running) -> dict[str, Any]:
    ref = put(s.base, "round-0002.npz", b"the real bytes of round 2", s.world.tmp)
    return {"artifact": replace(ref, sha256=hashlib.sha256(b"other bytes").hexdigest())}


def _wrong_size(s: Running) -> dict[str, Any]:
    ref = put(s.base, "round-0002.npz", b"the real bytes of round 2", s.world.tmp)
    return {"artifact": replace(ref, size=ref.size + 1)}


def _missing(s: Running) -> dict[str, Any]:
    return checkpoint(f"{s.base}/round-0002.npz", hashlib.sha256(b"").hexdigest(), 0)


def _symlink_out(s: Running) -> dict[str, Any]:
    """A link inside the folder to a file outside it, reported with that file's real digest."""
    target = s.world.tmp / "outside.txt"
    target.write_bytes(b"not a checkpoint")
    link = Path(s.base.removeprefix("file://")) / "round-0002.npz"
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    return checkpoint(link.as_uri(), hashlib.sha256(b"not a checkpoint").hexdigest(), 16)


def _other_round_1(s: Running) -> dict[str, Any]:
    return {"artifact": put(s.base, "round-0001-b.npz", b"a second model", s.world.tmp)}


def _wrong_run(s: Running) -> tuple[ProgressReport, str | None]:
    return replace(s.report(K.ROUND_STARTED, 3), run_id=s.run_id + 1000), None


def _another_runs_token(s: Running) -> tuple[ProgressReport, str | None]:
    r = s.report(K.ROUND_STARTED, 3)
    return r, make_token(PROGRESS_KEY, r.federation, r.generation, r.attempt, r.run_id + 1)


FORGERIES: list[tuple[str, Forgery, int, str]] = [
    ("no token", lambda s: (s.report(K.ROUND_STARTED, 3), ""), 401, "missing-token"),
    ("token of another run", _another_runs_token, 401, "bad-token"),
    ("another run id", _wrong_run, 409, "wrong-run"),
    ("round 4 before 3", _plain(K.ROUND_STARTED, 4), 409, "out-of-order"),
    ("round 3 completed, never started", _plain(K.ROUND_COMPLETED, 3), 409, "out-of-order"),
    ("checkpoint of a round not done", _artifact(_missing, rnd=3), 409, "out-of-order"),
    ("round past rounds.total", _plain(K.ROUND_STARTED, 6), 422, "past-total"),
    ("completion at round 2", _plain(K.COMPLETED, 2), 409, "completed-early"),
    ("completion claiming round 5", _plain(K.COMPLETED, 5), 409, "completed-early"),
    ("round 0", _plain(K.ROUND_STARTED, 0), 409, "before-start"),
    ("a negative round", _plain(K.ROUND_COMPLETED, -1), 422, "bad-round"),
    ("another tenant's folder", _artifact(_foreign_tenant), 403, "foreign-artifact"),
    (
        "file:///etc/passwd",
        _artifact(lambda s: checkpoint("file:///etc/passwd")),
        403,
        "foreign-artifact",
    ),
    (
        "climbing with ..",
        _artifact(lambda s: checkpoint(f"{s.base}/../../../../globex/{KEY.name}/g1/r.npz")),
        403,
        "foreign-artifact",
    ),
    (
        "climbing with %2e%2e",
        _artifact(lambda s: checkpoint(f"{s.base}/%2e%2e/%2e%2e/%2E%2E/globex/r.npz")),
        403,
        "foreign-artifact",
    ),
    (
        "climbing with %252e%252e",
        _artifact(lambda s: checkpoint(f"{s.base}/%252e%252e/%252e%252e/r.npz")),
        403,
        "foreign-artifact",
    ),
    (
        "the folder's own name as a prefix",
        _artifact(lambda s: checkpoint(f"{s.base}0/round-0002.npz")),
        403,
        "foreign-artifact",
    ),
    (
        "an S3 URI beside a local folder",
        _artifact(lambda s: checkpoint(f"s3://fl-checkpoints/acme/{KEY.name}/g1/round-0002.npz")),
        403,
        "foreign-artifact",
    ),
    ("a link out of the folder", _artifact(_symlink_out), 422, "artifact-mismatch"),
    ("a wrong sha256", _artifact(_wrong_sha), 422, "artifact-mismatch"),
    ("a wrong size", _artifact(_wrong_size), 422, "artifact-mismatch"),
    ("a checkpoint that is not there", _artifact(_missing), 422, "artifact-mismatch"),
    ("a second artifact for round 1", _artifact(_other_round_1, rnd=1), 409, "artifact-conflict"),
    ("a checkpoint without artifact", _plain(K.CHECKPOINT, 2), 422, "malformed"),
    (
        "a sha256 that is no digest",
        _artifact(lambda s: checkpoint(f"{s.base}/round-0002.npz", "x" * 64, 1)),
        422,
        "malformed",
    ),
    ("a client without node id", _plain(K.CLIENT_JOINED, 2, message=""), 422, "malformed"),
    (
        "a node dropped for a made-up reason",
        _plain(K.ROUND_COMPLETED, 2, dropped={"7": "not-my-favourite"}),
        422,
        "malformed",
    ),
    (
        "a node dropped by a name, not an id",
        _plain(K.ROUND_COMPLETED, 2, dropped={"node-7": "lease-ttl"}),
        422,
        "malformed",
    ),
    (
        "node labels beyond tags and tenant",
        _plain(K.NODE_LABELS, 2, labels={"7": {"partition-id": "0", "tags": "gpu"}}),
        422,
        "malformed",
    ),
    ("node labels naming no node", _plain(K.NODE_LABELS, 2, labels={}), 422, "malformed"),
    (
        "an attempt not launched yet",
        lambda s: (replace(s.report(K.ROUND_STARTED, 3), attempt=2), None),
        503,
        "not-recorded-yet",
    ),
    (
        "a generation never launched",
        lambda s: (replace(s.report(K.ROUND_STARTED, 3), generation=2, attempt=1), None),
        409,
        "superseded",
    ),
    (
        "a federation nobody recorded",
        lambda s: (replace(s.report(K.ROUND_STARTED, 3), federation="acme/nobody"), None),
        409,
        "unknown-federation",
    ),
]


def refuse_all(
    world: World, forgeries: list[tuple[str, Callable[[], tuple[ProgressReport, str | None]]]],
    expected: dict[str, tuple[int, str]], caplog: pytest.LogCaptureFixture,
) -> list[str]:  # fmt: skip
    """Send each forgery; check its answer, the log line, the counter and the store."""
    wrong: list[str] = []
    for name, forge in forgeries:
        status, reason = expected[name]
        report, token = forge()
        before, counted = recorded(world), refused_count(world, reason)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=SINK_LOG):
            got, body = post(world, report, token)
        lines = [r for r in caplog.records if r.name == SINK_LOG]
        after = recorded(world)
        if (got, body.get("reason")) != (status, reason):
            wrong.append(f"{name}: answered {got} {body}, expected {status} {reason}")
        if after != before:
            wrong.append(f"{name}: the recorded state changed")
        if refused_count(world, reason) != counted + 1:
            wrong.append(
                f"{name}: thunderline_progress_refused_total{{reason={reason}}} did not move"
            )
        if len(lines) != 1 or "refused" not in lines[0].getMessage():
            wrong.append(f"{name}: {len(lines)} log lines instead of one")
        elif any(
            s in lines[0].getMessage()
            for s in (PROGRESS_KEY.decode(), token or PROGRESS_KEY.decode())
        ):
            wrong.append(f"{name}: the log line holds a secret")
    return wrong


def test_forged_reports_for_a_running_federation_are_refused_and_change_nothing(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    forgeries = [(name, (lambda f=forge: f(running))) for name, forge, _, _ in FORGERIES]
    expected = {name: (status, reason) for name, _, status, reason in FORGERIES}

    wrong = refuse_all(running.world, forgeries, expected, caplog)

    assert wrong == [], "\n".join(wrong)
    assert len(FORGERIES) == 33
    # The run itself goes on: its next real reports are still recorded.
    world = running.world
    ckpt = put(running.base, "round-0002.npz", b"round 2", world.tmp)
    assert post(world, running.report(K.CHECKPOINT, 2, artifact=ckpt))[0] == 200
    assert post(world, running.report(K.ROUND_STARTED, 3))[0] == 200
    assert world.store.get(KEY).current_round == 3


def test_a_refusal_says_whether_the_run_must_stop(running: Running) -> None:
    other_run = replace(running.report(K.ROUND_STARTED, 3), run_id=running.run_id + 1000)
    status, body = post(running.world, other_run)
    assert (status, body["directive"]) == (409, "stop")
    status, body = post(running.world, running.report(K.ROUND_STARTED, 5))
    assert (status, body["directive"]) == (409, "continue")  # out of order, the run goes on


def test_reports_after_completion_are_refused(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    for _ in range(5):
        world.runtime.advance(run_id)
    world.cycle()
    record = world.store.get(KEY)
    assert record.phase is Phase.COMPLETED
    final = world.store.artifacts(KEY)[-1]
    same = ArtifactInfo(final.uri, final.sha256, final.size)

    def late(kind: ReportKind, rnd: int, **more: Any) -> tuple[ProgressReport, None]:
        return ProgressReport(str(KEY), 1, 1, run_id, kind, rnd, **more), None

    forgeries = [
        ("round 5 again", lambda: late(K.ROUND_STARTED, 5)),
        ("round 5 completed again", lambda: late(K.ROUND_COMPLETED, 5, metrics={"acc": 1.0})),
        ("the final checkpoint again", lambda: late(K.CHECKPOINT, 5, artifact=same)),
        ("completed again", lambda: late(K.COMPLETED, 5, artifact=same)),
        ("failed after completing", lambda: late(K.FAILED, 5, message="made up")),
        ("a client after the end", lambda: late(K.CLIENT_JOINED, 5, message="99")),
    ]
    expected = {name: (409, "attempt-finished") for name, _ in forgeries}

    wrong = refuse_all(world, forgeries, expected, caplog)

    assert wrong == [], "\n".join(wrong)
    assert world.store.get(KEY).phase is Phase.COMPLETED


def test_reports_of_a_superseded_attempt_are_refused(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.cycle()
    (first,) = world.run_ids()
    world.runtime.advance(first)
    world.push({SPEC_PATH: SPEC.replace("paused: false", "paused: true")}, "pause")
    world.cycle()
    world.runtime.advance(first)  # the run reaches its boundary and halts
    world.push({SPEC_PATH: SPEC}, "resume")
    world.cycle()
    record = world.store.get(KEY)
    assert (record.phase, record.attempt) == (Phase.STARTING, 2)
    second = world.run_ids()[-1]
    assert world.runtime.runs[second].request.start_round == 2

    def old(kind: ReportKind, rnd: int) -> tuple[ProgressReport, None]:
        return ProgressReport(str(KEY), 1, 1, first, kind, rnd), None

    def new(kind: ReportKind, rnd: int) -> tuple[ProgressReport, None]:
        return ProgressReport(str(KEY), record.run_generation, 2, second, kind, rnd), None

    forgeries = [
        ("the old attempt's round 2", lambda: old(K.ROUND_STARTED, 2)),
        ("the old attempt fails", lambda: old(K.FAILED, 1)),
        ("the old run under the new attempt", lambda: (replace(new(K.ROUND_STARTED, 2)[0], run_id=first), None)),
        ("the new attempt below its start round", lambda: new(K.ROUND_STARTED, 1)),
    ]  # fmt: skip
    expected = {
        "the old attempt's round 2": (409, "superseded"),
        "the old attempt fails": (409, "superseded"),
        "the old run under the new attempt": (409, "wrong-run"),
        "the new attempt below its start round": (409, "before-start"),
    }

    wrong = refuse_all(world, forgeries, expected, caplog)

    assert wrong == [], "\n".join(wrong)
    world.runtime.advance(second)  # the real new run is recorded as before
    assert world.store.get(KEY).current_round == 2


def test_completion_reads_the_final_checkpoint_back(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The last checkpoint was genuine when reported, then its bytes changed: neither the
    completion report nor Flower's "completed" may record the federation Completed."""
    world.cycle()
    (run_id,) = world.run_ids()
    for _ in range(4):
        world.runtime.advance(run_id)
    request = world.runtime.runs[run_id].request

    def report(kind: ReportKind, **more: Any) -> ProgressReport:
        return ProgressReport(str(KEY), 1, 1, run_id, kind, 5, **more)

    assert post(world, report(K.ROUND_STARTED))[0] == 200
    assert post(world, report(K.ROUND_COMPLETED))[0] == 200
    final = put(request.checkpoint_base, "round-0005.npz", b"the final model", world.tmp)
    assert post(world, report(K.CHECKPOINT, artifact=final))[0] == 200
    Path(final.uri.removeprefix("file://")).write_bytes(b"the final modem")  # same size
    world.cycle()

    forgeries = [
        ("completed on changed bytes", lambda: (report(K.COMPLETED, artifact=final), None)),
        ("completed, naming no artifact", lambda: (report(K.COMPLETED), None)),
    ]
    expected = {name: (422, "artifact-mismatch") for name, _ in forgeries}

    wrong = refuse_all(world, forgeries, expected, caplog)

    assert wrong == [], "\n".join(wrong)
    assert world.store.get(KEY).phase is Phase.RUNNING
    # Flower says the run completed: the daemon reads the checkpoint back before believing it.
    world.runtime.runs[run_id].finish("completed")
    world.cycle()
    record = world.store.get(KEY)
    assert record.phase is Phase.FAILED
    assert "final checkpoint failed verification" in record.reason
