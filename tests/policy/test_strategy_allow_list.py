"""A custom strategy is resolved against the tenant's allow-list before anything is imported:
`validate`, the daemon's loader and the ServerApp refuse what the policy does not list, and a
module that leaves a marker file when imported is provably never imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.specs import check_file
from reconciler.specs.policy import Policy, TenantRules
from tests.policy.test_cross_tenant import DEFAULTS, MINIMAL

# MINIMAL with a custom strategy: its class lands on line 12, column 14.
SPEC = MINIMAL.format(**DEFAULTS).replace(
    "    name: fedavg\n", "    name: custom\n    params:\n      class: {strategy}\n"
)
HOSTILE = ["os:system", "subprocess:Popen", "ensurepip.__main__:X", "this:X"]
MARKER_MODULE = "thunderline_marker_strategy"


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable module that writes a marker file the moment it is imported."""
    package = tmp_path / "importable"
    package.mkdir()
    marker = tmp_path / "imported.marker"
    (package / f"{MARKER_MODULE}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\nclass S: pass\n"
    )
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setenv("PYTHONPATH", str(package))
    sys.modules.pop(MARKER_MODULE, None)
    return marker


def write_spec(root: Path, strategy: str) -> Path:
    path = root / "specs" / "acme" / "probe.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SPEC.replace("{strategy}", strategy))
    return path


@pytest.mark.parametrize("strategy", HOSTILE)
def test_hostile_import_paths_are_validate_errors_at_their_line(
    strategy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_spec(tmp_path, strategy)
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        f"specs/acme/probe.yaml:12:14: spec.strategy.params.class: strategy class '{strategy}'"
        in out
    )
    assert "is not allowed for tenant 'acme'" in out


def test_an_unlisted_module_is_never_imported_by_validate(tmp_path: Path, marker: Path) -> None:
    write_spec(tmp_path, f"{MARKER_MODULE}:S")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode == 1, done.stderr
    assert "is not allowed" in done.stdout
    assert not marker.exists()


def test_the_daemons_loader_denies_it_without_importing(tmp_path: Path, marker: Path) -> None:
    path = write_spec(tmp_path, f"{MARKER_MODULE}:S")
    result = check_file("specs/acme/probe.yaml", path.read_bytes())
    assert result.document is None
    assert [(p.field, p.policy) for p in result.problems] == [("spec.strategy.params.class", True)]
    assert MARKER_MODULE not in sys.modules
    assert not marker.exists()


def test_a_listed_import_path_validates(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "acme_fl.robust:TrimmedAvg")
    listed = Policy(tenants={"acme": TenantRules(strategies=("acme_fl.robust:TrimmedAvg",))})
    assert check_file("specs/acme/probe.yaml", path.read_bytes(), policy=listed).problems == ()
    # Listed for acme only: globex may not name it.
    other = path.read_text().replace("tenant: acme", "tenant: globex")
    assert check_file("specs/globex/probe.yaml", other.encode(), policy=listed).problems


def test_flowers_built_in_strategies_need_no_listing(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "FedAdam")
    assert check_file("specs/acme/probe.yaml", path.read_bytes()).problems == ()


def test_the_tenants_list_travels_to_the_server_app_with_the_run() -> None:
    from reconciler.flowerapp.settings import parse_control
    from reconciler.model import FederationKey
    from reconciler.runtime.base import RunRequest
    from reconciler.runtime.flower import control_for

    request = RunRequest(
        key=FederationKey("acme", "probe"),
        generation=1,
        attempt=1,
        document={},
        checkpoint_base="file:///c",
        repo_root="/r",
        progress_url="http://127.0.0.1:1/v1/progress",
        strategies=("acme_fl.robust:TrimmedAvg",),
    )
    control = parse_control(control_for(request).to_json())
    assert control.strategies == ("acme_fl.robust:TrimmedAvg",)
