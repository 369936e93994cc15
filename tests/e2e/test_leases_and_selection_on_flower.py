"""Leases and node selection on real Flower: three SuperNodes on loopback, two tagged `gpu`.

The built-in app, submitted through the Flower driver, reporting to a real progress endpoint.
A clientSelector `tags: [gpu]` trains on exactly the two tagged nodes (the third is asked
its labels and never gets a task). A ClientApp slower than the lease's `ttlSeconds` (its
process is stopped, as a node stalled on other work would be, then let go once the lease is
over; a ClientApp the SuperNode starts again for the task is held as well) is dropped for that round with reason `lease-ttl`, the round aggregates the two
replies that came in time, and the slow node takes part again in the next round.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind
from reconciler.runtime.progress_server import ProgressServer
from tests.runtime.flower_harness import (
    SECRET,
    RecordingSink,
    digits_document,
    make_repo,
    request,
    wait_finished,
)

pytestmark = [pytest.mark.e2e, pytest.mark.flower, pytest.mark.timeout(600)]

TTL = 60  # the schema's least ttlSeconds
SLOW = 2  # the untagged SuperNode, whose ClientApp is held past the lease


@pytest.fixture(scope="module")
def flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFlower]:
    labels = [{"tags": "gpu,eu"}, {"tags": "gpu"}, {}]
    with LocalFlower(
        tmp_path_factory.mktemp("flower"), supernodes=3, progress_key=SECRET, labels=labels
    ) as deployment:
        yield deployment


@dataclass
class Ran:
    status: str  # e.g. finished:completed
    sink: RecordingSink
    logs: str  # the ServerApp's log, for failure messages


def run(
    flower: LocalFlower,
    root: Path,
    document: dict[str, object],
    *,
    generation: int,
    sink: RecordingSink | None = None,
) -> Ran:
    """Run `document` to its end; each test its own `generation` (the driver would adopt a
    run already started for the same one)."""
    sink = sink or RecordingSink()
    driver = flower.runtime()
    try:
        with ProgressServer(sink, SECRET) as server:
            run_id = driver.submit(request(root, document, server.url, generation=generation))
            status = wait_finished(driver, run_id, timeout=400)
        logs = "".join(driver.logs(run_id))[-6000:]
    finally:
        driver.close()
    return Ran(":".join(status[:2]), sink, logs)


def test_a_tags_selector_trains_on_exactly_the_tagged_supernodes(
    flower: LocalFlower, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "repo")
    document = digits_document(root, rounds=1, clientSelector={"tags": ["gpu"]})
    document["spec"]["strategy"]["params"]["minAvailable"] = 2  # type: ignore[index]

    ran = run(flower, root, document, generation=1)
    sink = ran.sink

    assert ran.status == "finished:completed", ran.logs
    labelled = {
        node: dict(labels)
        for r in sink.of()
        if r.kind == ReportKind.NODE_LABELS
        for node, labels in r.labels.items()
    }
    assert sorted(labelled.values(), key=str) == sorted(
        [{"tags": "gpu,eu"}, {"tags": "gpu"}, {}], key=str
    )
    tagged = {node for node, labels in labelled.items() if "gpu" in labels.get("tags", "")}
    joined = {r.message for r in sink.of() if r.kind == ReportKind.CLIENT_JOINED}
    assert joined == tagged and len(tagged) == 2
    assert sink.last(ReportKind.ROUND_COMPLETED).metrics["clients"] == 2.0


def test_a_clientapp_slower_than_its_lease_is_dropped_for_that_round(
    flower: LocalFlower, tmp_path: Path
) -> None:
    root = make_repo(tmp_path / "repo")
    document = digits_document(
        root,
        rounds=2,
        constraints={"lease": {"ttlSeconds": TTL}},
    )
    document["spec"]["rounds"]["timeoutSeconds"] = 240  # type: ignore[index]
    stalled = Stall(flower, SLOW, hold=TTL + 8)
    stalled.start()
    sink = RecordingSink(policy=stalled.arm_after_labels)
    try:
        ran = run(flower, root, document, generation=2, sink=sink)
    finally:
        stalled.release()

    assert stalled.stopped, f"the slow node's ClientApp was never caught running: {ran.logs}"
    assert ran.status == "finished:completed", ran.logs
    rounds = {r.round: r for r in sink.of() if r.kind == ReportKind.ROUND_COMPLETED}
    assert list(rounds[1].dropped.values()) == ["lease-ttl"], ran.logs
    assert rounds[1].metrics["clients"] == 2.0 and rounds[1].metrics["dropped"] == 1.0
    assert rounds[1].metrics["dropped-lease-ttl"] == 1.0
    assert rounds[2].dropped == {} and rounds[2].metrics["clients"] == 3.0
    started = [x.at for x in sink.received if x.report.kind == ReportKind.ROUND_STARTED]
    done = [x.at for x in sink.received if x.report.kind == ReportKind.ROUND_COMPLETED]
    assert done[0] - started[0] >= TTL - 1  # the round waited out the lease, not longer
    assert done[0] - started[0] < TTL + 30


class Stall(threading.Thread):
    """Stops every ClientApp process of SuperNode `index` for `hold` seconds from the first
    one seen after the run reported its nodes' labels (so the training task is the one held,
    not the labels query): the SuperNode starts a new one for the task when the first stops
    answering (no heartbeat), and that one must be as slow, or the node would not be."""

    def __init__(self, flower: LocalFlower, index: int, *, hold: float) -> None:
        super().__init__(daemon=True)
        self.flower, self.index, self.hold = flower, index, hold
        self.stopped: list[int] = []
        self._armed = threading.Event()
        self._released = threading.Event()

    def arm_after_labels(self, report: ProgressReport) -> Directive:
        """A RecordingSink policy: arm at the labels report, always continue."""
        if report.kind == ReportKind.NODE_LABELS:
            self._armed.set()
        return Directive.CONTINUE

    def run(self) -> None:
        self._armed.wait(120)
        until = time.monotonic() + 120  # to see the first one; then `hold` from it
        while not self._released.is_set() and time.monotonic() < until:
            for pid in self.flower.node_processes(self.index):
                if pid not in self.stopped and _is_clientapp(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGSTOP)
                        if not self.stopped:
                            until = time.monotonic() + self.hold
                        self.stopped.append(pid)
            time.sleep(0.02)
        self.release()

    def release(self) -> None:
        self._released.set()
        for pid in self.stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _is_clientapp(pid: int) -> bool:
    """A `flwr-clientapp` process, or (warm SuperNodes, runtime/warm.py) a child of the
    SuperExec's fork server, which is what runs a ClientApp there."""
    try:
        if b"flwr-clientapp" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return True
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        return b"multiprocessing.forkserver" in Path(f"/proc/{parent}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
