"""Shared pieces for driving real federations: the example spec, a recording sink, waits.

Used by the flower test tier (through conftest fixtures) and by bench/bench_flower.py.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import FederationKey
from reconciler.runtime.base import Artifact, RunRequest, RuntimeUnavailable
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind
from reconciler.runtime.tls import Transport

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = b"flower-tier-secret-0123456789abcdef"
KEY = FederationKey("acme", "digits")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_repo(root: Path) -> Path:
    """A spec repository root laid out like the demo: data/ and models/ from examples/."""
    shutil.copytree(EXAMPLES / "data", root / "data", dirs_exist_ok=True)
    shutil.copytree(EXAMPLES / "models", root / "models", dirs_exist_ok=True)
    return root


def digits_document(root: Path, *, rounds: int = 3, **spec: Any) -> dict[str, Any]:
    """The example federation: logistic regression on 3 non-IID digits shards."""
    shards = [
        {"uri": f"data/digits/shard-{i}.npz", "sha256": sha256(root / f"data/digits/shard-{i}.npz")}
        for i in range(3)
    ]
    body: dict[str, Any] = {
        "modelRef": {
            "uri": "models/digits-logreg-init.npz",
            "sha256": sha256(root / "models/digits-logreg-init.npz"),
            "format": "npz",
        },
        "strategy": {
            "name": "fedavg",
            "params": {"minAvailable": 3, "localEpochs": 3, "learningRate": 0.3},
        },
        "rounds": {"total": rounds, "timeoutSeconds": 60},
        "datasetSpec": {
            "schema": "npz",
            "shards": shards,
            "evaluation": {
                "uri": "data/digits/test.npz",
                "sha256": sha256(root / "data/digits/test.npz"),
            },
        },
        "artifacts": {"outputBucket": "local", "prefix": "digits"},
        "seed": 0,
    }
    body.update(spec)
    return {
        "apiVersion": "thunderline.okocorp/v1",
        "kind": "FederationSpec",
        "metadata": {"name": KEY.name, "tenant": KEY.tenant},
        "spec": body,
    }


@dataclass
class Received:
    report: ProgressReport
    at: float


@dataclass
class RecordingSink:
    """Records every report; `policy` picks the directive (continue by default)."""

    policy: Callable[[ProgressReport], Directive] = lambda r: Directive.CONTINUE
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, r: ProgressReport) -> Directive:
        with self._lock:
            self.received.append(Received(r, time.time()))
        return self.policy(r)

    def of(self, attempt: int | None = None) -> list[ProgressReport]:
        with self._lock:
            return [x.report for x in self.received if attempt in (None, x.report.attempt)]

    def kinds(self, attempt: int | None = None) -> list[tuple[str, int]]:
        return [(str(r.kind), r.round) for r in self.of(attempt) if not _is_client(r)]

    def last(self, kind: ReportKind) -> ProgressReport:
        return [r for r in self.of() if r.kind == kind][-1]


@dataclass
class Endpoint:
    """A progress endpoint on loopback and the sink behind it."""

    sink: RecordingSink
    url: str


@dataclass
class Finished:
    """A federation run to completion: its id, final Flower status, and its reports."""

    run_id: int
    status: tuple[str, str, str]
    sink: RecordingSink


def _is_client(r: ProgressReport) -> bool:
    """Reports about SuperNodes (joined, dropped, their labels): `kinds` leaves them out."""
    return r.kind in (ReportKind.CLIENT_JOINED, ReportKind.CLIENT_DROPPED, ReportKind.NODE_LABELS)


def request(
    root: Path,
    document: dict[str, Any],
    progress_url: str,
    *,
    generation: int = 1,
    attempt: int = 1,
    start_round: int = 1,
    resume_from: Artifact | None = None,
) -> RunRequest:
    base = root / ".thunderline/artifacts/fl-checkpoints" / KEY.tenant / KEY.name
    return RunRequest(
        key=KEY,
        generation=generation,
        attempt=attempt,
        document=document,
        checkpoint_base=(base / f"g{generation}").as_uri(),
        repo_root=str(root),
        progress_url=progress_url,
        start_round=start_round,
        resume_from=resume_from,
    )


def wait_finished(runtime: FlowerRuntime, run_id: int, timeout: float) -> tuple[str, str, str]:
    """Poll until the run is finished; return (status, sub_status, details)."""
    deadline = time.monotonic() + timeout
    while (status := runtime.status(run_id))[0] != "finished":
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {status} after {timeout:.0f} s")
        time.sleep(0.25)
    return status


def refusal(address: str, transport: Transport) -> str:
    """The error a Control API client with `transport` gets from the SuperLink at `address`."""
    runtime = FlowerRuntime(address, transport=transport)
    try:
        with pytest.raises(RuntimeUnavailable) as caught:
            runtime.nodes()
    finally:
        runtime.close()
    return str(caught.value)
