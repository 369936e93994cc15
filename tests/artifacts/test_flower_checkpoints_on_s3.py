"""The Flower app writes its checkpoints to an `s3://` checkpoint base on a real S3 server, and
a resumed run reads them back verified: the path the daemon takes with `reconciler run --s3`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reconciler.apply import checkpoint_base
from reconciler.artifacts import fetch_verified
from reconciler.flowerapp.model import load_model
from reconciler.flowerapp.server import FederationRun
from reconciler.flowerapp.settings import Control
from reconciler.model import FederationKey
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind
from tests.artifacts.conftest import S3Server

pytestmark = pytest.mark.s3


class Recorder:
    """A progress sink that keeps every report and always says continue."""

    def __init__(self) -> None:
        self.reports: list[ProgressReport] = []

    def report(self, r: ProgressReport) -> Directive:
        self.reports.append(r)
        return Directive.CONTINUE


def test_checkpoints_land_in_the_specs_bucket_and_read_back_verified(
    s3: tuple[Any, Any, str],
    radosgw: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, client, bucket = s3
    for name, value in radosgw.env.items():  # what SuperLink and its app processes inherit
        monkeypatch.setenv(name, value)
    document = {"spec": {"artifacts": {"outputBucket": f"s3://{bucket}", "prefix": "digits"}}}
    base = checkpoint_base(document, FederationKey("acme", "digits"), 2, root=None)
    control = Control("acme/digits", 2, 1, 1, base, str(tmp_path), "http://unused")
    sink = Recorder()
    run = FederationRun(grid=None, control=control, sink=sink, run_id=7)  # type: ignore[arg-type]
    params = {
        "weights": np.arange(12, dtype=np.float32).reshape(4, 3),
        "bias": np.ones(3, np.float32),
    }

    run._save_checkpoint(params, 3)

    (report,) = sink.reports
    assert report.kind == ReportKind.CHECKPOINT
    assert report.artifact is not None
    assert report.artifact.uri == f"s3://{bucket}/acme/digits/g2/round-0003.npz"
    assert client.head_object(Bucket=bucket, Key="acme/digits/g2/round-0003.npz")
    path = fetch_verified(
        report.artifact.uri,
        sha256=report.artifact.sha256,
        repo_root=tmp_path,
        dest_dir=tmp_path / "cache",
    )
    loaded = load_model(path, "npz")
    assert set(loaded) == {"weights", "bias"}
    np.testing.assert_array_equal(loaded["weights"], params["weights"])
