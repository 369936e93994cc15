"""`reconciler validate`: compiler-style lines, JSON, exit codes, and which files it reads."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import main

from .conftest import REPO_ROOT, minimal_document

MakeRepo = Callable[[dict[str, str | bytes]], Path]
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<field>\S+): (?P<message>.+)$")


@pytest.fixture
def repo(make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one valid spec, one schema error and one syntax error; cwd = root."""
    root = make_repo(
        {
            "specs/acme/good.yaml": minimal_document(name="good"),
            "specs/acme/bad.yaml": minimal_document(name="bad").replace("total: 1", "total: 0"),
            "specs/globex/broken.yaml": minimal_document("globex", "broken") + "  x: [\n",
        }
    )
    monkeypatch.chdir(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_repository_exits_0(make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo({"specs/acme/a.yaml": minimal_document(name="a")})

    code, out, err = run(capsys, str(root))

    assert (code, out) == (0, "")
    assert "1 spec file(s) valid" in err


def test_every_problem_of_every_file_prints_like_a_compiler(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys)

    assert code == 1
    lines = out.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert lines[0] == "specs/acme/bad.yaml:13:12: spec.rounds.total: must be >= 1; got 0"
    assert lines[1].startswith("specs/globex/broken.yaml:")
    assert "2 problem(s) in 2 of 3 spec file(s)" in err


def test_json_output_lists_the_same_problems(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, ".", "--output", "json")

    body = json.loads(out)
    assert code == 1 and body["valid"] is False and body["checked"] == 3
    assert [(p["file"], p["line"], p["field"]) for p in body["problems"]] == [
        ("specs/acme/bad.yaml", 13, "spec.rounds.total"),
        ("specs/globex/broken.yaml", 20, ""),
    ]


@pytest.mark.parametrize(
    ("target", "code", "files"),
    [
        ("specs/acme/good.yaml", 0, set()),
        ("specs/acme", 1, {"specs/acme/bad.yaml"}),
        ("specs", 1, {"specs/acme/bad.yaml", "specs/globex/broken.yaml"}),
        ("specs/globex/broken.yaml", 1, {"specs/globex/broken.yaml"}),
    ],
)
def test_a_path_selects_what_is_reported(
    repo: Path, capsys: pytest.CaptureFixture[str], target: str, code: int, files: set[str]
) -> None:
    result, out, _ = run(capsys, target)

    assert result == code
    assert {line.split(":")[0] for line in out.splitlines()} == files


def test_a_single_file_is_still_checked_against_the_whole_repository(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "specs/acme/copy.yaml").write_text(minimal_document(name="good"))

    code, out, _ = run(capsys, "specs/acme/copy.yaml")

    assert code == 1
    assert "is also declared in specs/acme/good.yaml" in out


def test_file_names_are_relative_to_the_current_folder(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "specs")

    _, out, _ = run(capsys, "acme/bad.yaml")

    assert out.startswith("acme/bad.yaml:13:12:")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.yaml"], "no such file or folder"),
        (["notes.txt"], "not a YAML file"),
        (["status"], "spec files live in specs/<tenant>/"),
        (["--output", "xml"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(
    repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (repo / "notes.txt").write_text("hello")
    (repo / "status").mkdir()

    try:
        code = main(["validate", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err

    assert code == 2
    assert message in err and "Traceback" not in err


def test_no_specs_folder_anywhere_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, str(tmp_path))

    assert code == 2 and "no specs/ folder" in err


def test_python_m_reconciler_validate_passes_on_the_example_specs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "specs/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_big_repositories_are_checked_in_worker_processes_with_the_same_verdicts(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files: dict[str, str | bytes] = {
        f"specs/t{i % 5}/f{i}.yaml": minimal_document(f"t{i % 5}", f"f{i}") for i in range(450)
    }
    files["specs/t1/f1.yml"] = minimal_document("t1", "f1")  # the same name: both invalid
    root = make_repo(files)
    monkeypatch.chdir(root)

    code, out, err = run(capsys)

    assert code == 1
    assert sorted(line.split(":")[0] for line in out.splitlines()) == [
        "specs/t1/f1.yaml",
        "specs/t1/f1.yml",
    ]
    assert "of 451 spec file(s)" in err


def test_a_reserved_field_set_is_a_located_warning_and_the_spec_stays_valid(
    make_repo: MakeRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    text = minimal_document(name="a") + "  privacy:\n    secureAggregation:\n      enabled: false\n"
    root = make_repo({"specs/acme/a.yaml": text})

    code, out, err = run(capsys, str(root))
    json_code, json_out, _ = run(capsys, str(root), "--output", "json")

    assert code == json_code == 0 and "1 spec file(s) valid" in err
    (line,) = out.splitlines()
    assert LINE.match(line), line
    assert line.endswith(
        "spec.privacy.secureAggregation: warning: reserved: secure aggregation is not "
        "implemented yet"
    )
    body = json.loads(json_out)
    assert body["valid"] and body["problems"] == []
    assert [w["field"] for w in body["warnings"]] == ["spec.privacy.secureAggregation"]


def test_fields_only_the_built_in_app_reads_are_warned_about_with_spec_app() -> None:
    from reconciler.specs.rules import reserved_findings

    document = {
        "spec": {
            "app": {"path": "apps/mine"},
            "privacy": {"dp": {"enabled": True, "epsilon": 1.0, "delta": 1e-5}},
            "strategy": {"name": "fedavg", "params": {"minAvailable": 2, "localEpochs": 3}},
        }
    }

    found = {".".join(map(str, path)): message for path, message in reserved_findings(document)}

    assert set(found) == {"spec.privacy.dp", "spec.strategy.params.localEpochs"}
    assert all("only the built-in app reads it" in m for m in found.values())
    del document["spec"]["app"]
    assert reserved_findings(document) == []  # the built-in app reads them all


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("json", "json"), ("yaml", "yaml")])
def test_every_output_matches_its_golden_file(
    repo: Path, fmt: str, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli.conftest import check_golden

    code, out, _ = run(capsys, "-o", fmt)

    assert code == 1
    check_golden(f"validate.{suffix}", out)
