"""`spec.target`: the daemon refuses a SuperLink it does not drive with the file's line and
column; `reconciler validate`, which knows no targets, checks only the name's shape."""

from __future__ import annotations

from pathlib import Path

from reconciler.model import DEFAULT_TARGETS, TargetNames
from reconciler.specs.filecheck import check_file

EXAMPLE = Path(__file__).parents[2] / "specs" / "acme" / "digits-fedavg.yaml"
PATH = "specs/acme/digits-fedavg.yaml"
SEVERAL = TargetNames(frozenset({"eu", "us"}), None)


def with_target(name: str) -> bytes:
    text = EXAMPLE.read_text().replace(
        "spec:\n  paused: false", f"spec:\n  target: {name}\n  paused: false"
    )
    assert f"target: {name}" in text
    return text.encode()


def problems(content: bytes, targets: TargetNames | None = None) -> list[str]:
    result = (
        check_file(PATH, content) if targets is None else check_file(PATH, content, targets=targets)
    )
    return [str(p) for p in result.problems]


def test_a_target_the_daemon_drives_is_accepted() -> None:
    assert problems(with_target("eu"), SEVERAL) == []


def test_an_unknown_target_is_located_at_its_value() -> None:
    line = EXAMPLE.read_text().splitlines().index("spec:") + 2  # the line after "spec:"
    assert problems(with_target("ap"), SEVERAL) == [
        f"{PATH}:{line}:11: spec.target: unknown target 'ap': this daemon drives eu, us"
    ]


def test_no_target_where_several_are_driven_names_them() -> None:
    (problem,) = problems(EXAMPLE.read_bytes(), SEVERAL)
    assert "spec: this daemon drives several SuperLinks (eu, us): name one" in problem


def test_one_superlink_takes_specs_without_a_target_and_refuses_named_ones() -> None:
    assert problems(EXAMPLE.read_bytes(), DEFAULT_TARGETS) == []
    (problem,) = problems(with_target("eu"), DEFAULT_TARGETS)
    assert "unknown target 'eu': this daemon drives default" in problem


def test_validate_without_daemon_config_checks_only_the_shape() -> None:
    assert problems(with_target("any-region-1")) == []
    (problem,) = problems(with_target("EU_West"))
    assert "spec.target" in problem and "EU_West" in problem
