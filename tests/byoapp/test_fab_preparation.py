"""A team's app becomes a FAB the driver can submit; a bad one is refused before Flower."""

from __future__ import annotations

import hashlib
import io
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from flwr.cli.build import build_fab_from_disk

from reconciler.flowerapp.settings import Control, parse_control
from reconciler.model import FederationKey
from reconciler.runtime.apps import prepare_app
from reconciler.runtime.base import RunRejected, RunRequest
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import free_port
from reconciler.specs.apps import APP_CONTROL_KEY
from tests.byoapp.apprepo import APPS, app_spec, make_app_repo

CONTROL = Control("acme/quickstart", 1, 1, 1, "file:///tmp/ckpt", "/repo", "http://x/p")


def fab_pyproject(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as fab:
        return tomllib.loads(fab.read("pyproject.toml").decode())


def document(**app: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(app_spec())
    doc["spec"]["app"] = app
    return doc


def packaged(tmp_path: Path, app: str = "quickstart-numpy") -> tuple[Path, str]:
    fab = tmp_path / f"{app}.fab"
    fab.write_bytes(build_fab_from_disk(APPS / app))
    return fab, hashlib.sha256(fab.read_bytes()).hexdigest()


def test_an_app_folder_becomes_a_fab_that_declares_the_control_key(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {})
    doc = document(path="apps/quickstart-numpy", config={"num-server-rounds": 2})
    app = prepare_app(doc, root)
    assert app is not None and not app.manifest.controlled
    config = fab_pyproject(app.fab.content)["tool"]["flwr"]["app"]["config"]
    assert config[APP_CONTROL_KEY] == "" and config["num-server-rounds"] == 3
    assert app.fab.hash_str == hashlib.sha256(app.fab.content).hexdigest()
    overrides = app.overrides(CONTROL)
    assert overrides["num-server-rounds"] == 2
    assert parse_control(str(overrides[APP_CONTROL_KEY])) == CONTROL
    assert prepare_app(doc, root) == app  # same folder, same bytes


def test_the_built_in_app_needs_no_preparation(tmp_path: Path) -> None:
    assert prepare_app({"spec": {"rounds": {"total": 1}}}, tmp_path) is None


def test_a_prebuilt_fab_is_verified_and_used(tmp_path: Path) -> None:
    fab, digest = packaged(tmp_path, "sdk-numpy")
    doc = document(uri=fab.as_uri(), sha256=digest, config={"num-server-rounds": 2})
    app = prepare_app(doc, tmp_path)
    assert app is not None and app.manifest.controlled
    assert app.fab.content == fab.read_bytes()  # declares the key already: submitted as is


def test_a_prebuilt_fab_without_the_key_gets_it(tmp_path: Path) -> None:
    fab, digest = packaged(tmp_path)
    doc = document(uri=fab.as_uri(), sha256=digest, config={"num-server-rounds": 2})
    app = prepare_app(doc, tmp_path)
    assert app is not None
    assert APP_CONTROL_KEY in fab_pyproject(app.fab.content)["tool"]["flwr"]["app"]["config"]
    with zipfile.ZipFile(io.BytesIO(app.fab.content)) as rebuilt:
        assert "quickstart_numpy/server_app.py" in rebuilt.namelist()


def test_a_prebuilt_fab_with_a_wrong_sha256_is_refused(tmp_path: Path) -> None:
    fab, _ = packaged(tmp_path)
    wrong = "0" * 64
    with pytest.raises(RunRejected, match=f"sha256 mismatch.*expected {wrong[:12]}"):
        prepare_app(document(uri=fab.as_uri(), sha256=wrong), tmp_path)


@pytest.mark.parametrize(
    ("app", "message"),
    [
        pytest.param(
            {"path": "apps/quickstart-numpy", "config": {"lr": 0.1}},
            "spec.app.config.lr: 'lr' is not a run-config key",
            id="unknown config key",
        ),
        pytest.param({"path": "apps/nothing"}, "not found in the repository", id="no such folder"),
        pytest.param(
            {"uri": "file:///no/such/app.fab", "sha256": "0" * 64}, "app FAB", id="no such FAB"
        ),
    ],
)
def test_the_driver_refuses_before_contacting_flower(
    tmp_path: Path, app: dict[str, Any], message: str
) -> None:
    root = make_app_repo(tmp_path, {})
    # Nothing listens on this port: reaching Flower would raise RuntimeUnavailable instead.
    runtime = FlowerRuntime(f"127.0.0.1:{free_port()}")
    request = RunRequest(
        key=FederationKey("acme", "quickstart"),
        generation=1,
        attempt=1,
        document=document(**app),
        checkpoint_base=(tmp_path / "ckpt").as_uri(),
        repo_root=str(root),
        progress_url="http://127.0.0.1:9/v1/progress",
    )
    try:
        with pytest.raises(RunRejected, match=message):
            runtime.submit(request)
    finally:
        runtime.close()


def test_a_round_count_the_app_does_not_run_is_refused(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {})
    with pytest.raises(RunRejected, match="runs num-server-rounds = 3 rounds"):
        prepare_app(document(path="apps/quickstart-numpy"), root)  # spec says 2
