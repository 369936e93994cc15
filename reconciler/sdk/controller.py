"""The control plane's side of one Flower run, for a team's own ServerApp.

`Controller.from_context(context)` reads the run's `thunderline-control` run-config key
(set by the reconciler for every run it submits) and then reports each step to the daemon
with the progress protocol (`runtime.progress`), writes checkpoints through the artifact
store, loads the checkpoint a resumed run starts from, and hands back the daemon's directive
(continue, pause, stop), and carries the spec's lease and clientSelector for the strategy to
enforce. `ControlledStrategy` drives it from Flower's strategy loop; a custom
ServerApp loop calls it directly (see docs/byo-apps.md). Outside the reconciler (the key is
empty, e.g. under `flwr run`) the controller does nothing and always answers continue.

The run config carries no credential: the controller derives its bearer token from the
progress key in the SuperLink side's environment (`THUNDERLINE_PROGRESS_KEY_FILE` or
`THUNDERLINE_PROGRESS_KEY`) and the run's own Flower id. A report the daemon refuses is
logged and the run goes on (obeying the directive the refusal carries); a refused token
(HTTP 401) raises `ProgressUnauthorised`, since nothing the run reports can count.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, Context

from reconciler.artifacts import fetch_verified, open_store, sha256_file
from reconciler.flowerapp.lease import Lease, dropped_metrics
from reconciler.flowerapp.settings import Control, parse_control
from reconciler.flowerapp.undelivered import keep_undelivered
from reconciler.runtime.progress import (
    ArtifactInfo,
    Directive,
    ProgressReport,
    ProgressSink,
    ReportKind,
    run_client,
    send_report,
)
from reconciler.selector import Labels, Selector
from reconciler.specs.apps import APP_CONTROL_KEY

CHECKPOINT_FORMAT = "npz"
log = logging.getLogger(__name__)


class Standalone:
    """The sink of a run the reconciler did not start: records nothing, always continue."""

    def report(self, r: ProgressReport) -> Directive:
        return Directive.CONTINUE


def checkpoint_bytes(arrays: ArrayRecord) -> bytes:
    """An .npz of the record's arrays, in the record's order, whose bytes depend only on them
    (fixed timestamps), so equal models give equal sha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in arrays:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with zf.open(info, "w") as entry:
                array = np.ascontiguousarray(arrays[name].numpy())
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return buf.getvalue()


def load_checkpoint(path: Path) -> ArrayRecord:
    """The ArrayRecord a checkpoint was written from (names and order kept)."""
    with np.load(path, allow_pickle=False) as npz:
        return ArrayRecord({name: Array.from_numpy_ndarray(npz[name]) for name in npz.files})


@dataclass
class Controller:
    """Reports, checkpoints and directives for one run; `control` None means standalone."""

    control: Control | None
    sink: ProgressSink
    run_id: int = 0
    last_round: int = 0
    directive: Directive = Directive.CONTINUE
    checkpoint: ArtifactInfo | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    clients: set[int] = field(default_factory=set)
    refused: int = 0  # reports the daemon refused
    _failing: bool = False

    @classmethod
    def from_context(cls, context: Context, *, sink: ProgressSink | None = None) -> Controller:
        raw = str(context.run_config.get(APP_CONTROL_KEY, "") or "").strip()
        if not raw:
            return cls(None, sink or Standalone(), context.run_id)
        control = parse_control(raw)
        client = sink or run_client(
            control.progress_url,
            federation=control.federation,
            generation=control.generation,
            attempt=control.attempt,
            run_id=context.run_id,
        )
        return cls(control, client, context.run_id, last_round=control.start_round - 1)

    @property
    def managed(self) -> bool:
        """Started by the reconciler (else standalone)."""
        return self.control is not None

    @property
    def lease(self) -> Lease | None:
        """The spec's lease on each participant's task (None standalone: nothing enforced)."""
        return self.control.lease if self.control else None

    @property
    def selector(self) -> Selector:
        """The spec's clientSelector (standalone: every node)."""
        return self.control.selector if self.control else Selector()

    def nodes_labelled(self, rnd: int, labels: Mapping[int, Labels]) -> None:
        """Report the labels the run's SuperNodes answered with (for the daemon's admission)."""
        found = {str(node): dict(values) for node, values in sorted(labels.items())}
        self.report(ReportKind.NODE_LABELS, rnd, labels=found)

    @property
    def start_round(self) -> int:
        """The federation's round this run starts at (r + 1 when resuming after round r)."""
        return self.control.start_round if self.control else 1

    def initial_arrays(self, default: ArrayRecord) -> ArrayRecord:
        """The checkpoint a resumed run starts from (verified), else `default`."""
        resume = self.control.resume_from if self.control else None
        if self.control is None or resume is None:
            return default
        path = fetch_verified(
            resume.uri, sha256=resume.sha256, repo_root=Path(self.control.repo_root)
        )
        digest, size = sha256_file(path)
        self.checkpoint = ArtifactInfo(resume.uri, digest, size, CHECKPOINT_FORMAT)
        return load_checkpoint(path)

    def report(self, kind: ReportKind, rnd: int, **extra: object) -> Directive:
        if self.control is None:
            return Directive.CONTINUE
        report = ProgressReport(
            federation=self.control.federation,
            generation=self.control.generation,
            attempt=self.control.attempt,
            run_id=self.run_id,
            kind=kind,
            round=rnd,
            **extra,  # type: ignore[arg-type]
        )
        self.directive, refused = send_report(
            self.sink, report, current=self.directive, failing=self._failing, warn=log.warning
        )
        self.refused += refused
        return self.directive

    def round_started(self, rnd: int, nodes: Iterable[int] = ()) -> Directive:
        """Report round `rnd` starting (and nodes that joined or left since the last round)."""
        directive = self.report(ReportKind.ROUND_STARTED, rnd)
        online = set(nodes)
        for node in sorted(online - self.clients):
            self.report(ReportKind.CLIENT_JOINED, rnd, message=str(node))
        for node in sorted(self.clients - online) if online else ():
            self.report(ReportKind.CLIENT_DROPPED, rnd, message=str(node))
        self.clients = online or self.clients
        self.directive = directive
        return directive

    def round_completed(
        self,
        rnd: int,
        arrays: ArrayRecord,
        metrics: Mapping[str, float],
        dropped: Mapping[int, str] | None = None,
    ) -> Directive:
        """Report the round's metrics (and the nodes whose replies did not count, with the
        lease reason), then write and report its checkpoint."""
        lost = dict(dropped or {})
        self.last_round, self.metrics = rnd, {**metrics, **dropped_metrics(lost)}
        why = {str(node): reason for node, reason in sorted(lost.items())}
        self.report(ReportKind.ROUND_COMPLETED, rnd, metrics=self.metrics, dropped=why)
        return self.save_checkpoint(rnd, arrays)

    def save_checkpoint(self, rnd: int, arrays: ArrayRecord) -> Directive:
        if self.control is None:
            return Directive.CONTINUE
        store = open_store(self.control.checkpoint_base)
        with tempfile.TemporaryDirectory(prefix="thunderline-ckpt-") as tmp:
            local = Path(tmp) / "checkpoint.npz"
            local.write_bytes(checkpoint_bytes(arrays))
            ref = store.put(local, f"round-{rnd:04d}.npz")
        self.checkpoint = ArtifactInfo(ref.uri, ref.sha256, ref.size, CHECKPOINT_FORMAT)
        return self.report(ReportKind.CHECKPOINT, rnd, artifact=self.checkpoint)

    def halts_after(self, rnd: int, total: int) -> bool:
        """Whether the run must end after round `rnd` (the daemon said pause or stop)."""
        return rnd < total and self.directive != Directive.CONTINUE

    def completed(self) -> None:
        self._last_report(
            ReportKind.COMPLETED, self.last_round, metrics=self.metrics, artifact=self.checkpoint
        )

    def halted(self) -> None:
        """Report `paused` or `stopped` after the last round done, as the directive said."""
        kind = ReportKind.PAUSED if self.directive == Directive.PAUSE else ReportKind.STOPPED
        self._last_report(kind, self.last_round, artifact=self.checkpoint)

    def failed(self, reason: str) -> None:
        self._failing = True
        self._last_report(ReportKind.FAILED, self.last_round, message=reason)

    def _last_report(self, kind: ReportKind, rnd: int, **extra: object) -> None:
        """The run's end: what the daemon did not get is left for it (`keep_undelivered`)."""
        self.report(kind, rnd, **extra)
        if self.control is not None:
            keep_undelivered(self.sink, self.control.checkpoint_base, self.run_id)
