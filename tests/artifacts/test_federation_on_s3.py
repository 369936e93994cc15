"""A whole federation on real Flower processes with everything on S3 (radosgw): the model,
the data shards and the evaluation set are read from s3:// and verified in the ServerApp and
the ClientApps, and every round's checkpoint is written to the spec's bucket."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest

from reconciler.artifacts import fetch_verified
from reconciler.flowerapp import model
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import ReportKind
from reconciler.runtime.progress_server import ProgressServer
from tests.artifacts.conftest import S3Server
from tests.runtime.flower_harness import (
    SECRET,
    RecordingSink,
    digits_document,
    make_repo,
    request,
    wait_finished,
)

pytestmark = [pytest.mark.s3, pytest.mark.flower, pytest.mark.timeout(400)]


def _to_s3(document: dict[str, Any], root: Path, client: Any, bucket: str) -> None:
    """Upload every input the document names and point the document at the copies."""
    spec = document["spec"]
    refs = [spec["modelRef"], spec["datasetSpec"]["evaluation"], *spec["datasetSpec"]["shards"]]
    for ref in refs:
        client.upload_file(str(root / ref["uri"]), bucket, f"inputs/{ref['uri']}")
        ref["uri"] = f"s3://{bucket}/inputs/{ref['uri']}"


def test_a_federation_reads_inputs_from_and_writes_checkpoints_to_s3(
    s3: tuple[Any, Any, str],
    radosgw: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, client, bucket = s3
    root = make_repo(tmp_path / "repo")
    document = digits_document(root, rounds=2)
    _to_s3(document, root, client, bucket)
    env = {**radosgw.env, "THUNDERLINE_ARTIFACT_CACHE": str(tmp_path / "cache")}
    for name, value in env.items():  # this process reads the final checkpoint back
        monkeypatch.setenv(name, value)
    sink = RecordingSink()
    with (
        LocalFlower(
            tmp_path / "flower", supernodes=3, extra_env=env, progress_key=SECRET
        ) as flower,
        ProgressServer(sink, SECRET) as server,
    ):
        req = dataclasses.replace(
            request(tmp_path / "empty", document, server.url),
            checkpoint_base=f"s3://{bucket}/acme/digits/g1",
        )
        driver = flower.runtime()
        status = wait_finished(driver, driver.submit(req), timeout=300)
        driver.close()

    assert status == ("finished", "completed", "")
    downloaded = sorted(p.name for p in (tmp_path / "cache").rglob("*.npz"))
    assert downloaded == [
        "digits-logreg-init.npz",
        *[f"shard-{i}.npz" for i in range(3)],
        "test.npz",
    ]
    checkpoints = [r.artifact for r in sink.of() if r.kind == ReportKind.CHECKPOINT]
    assert [a.uri for a in checkpoints if a] == [
        f"s3://{bucket}/acme/digits/g1/round-0001.npz",
        f"s3://{bucket}/acme/digits/g1/round-0002.npz",
    ]
    final = sink.last(ReportKind.COMPLETED).artifact
    assert final is not None
    path = fetch_verified(final.uri, sha256=final.sha256, repo_root=tmp_path, dest_dir=tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == final.sha256
    assert set(model.load_model(path, "npz")) >= {"weights"}
