"""Rendering status files: deterministic, complete, readable, and free of secrets."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from reconciler.model import Condition, ConditionType, Phase
from reconciler.report import RoundStatus, render_status, status_paths
from tests.report.builders import status


def test_paths_for_every_federation_and_the_index() -> None:
    files = render_status([status(name="b"), status(tenant="team-z", name="a")])

    assert sorted(files) == [
        "status/README.md",
        "status/team-a/b.md",
        "status/team-a/b.yaml",
        "status/team-z/a.md",
        "status/team-z/a.yaml",
    ]


def test_same_statuses_render_byte_identical_whatever_the_order() -> None:
    one = [status(name="a"), status(name="b", last_metrics={"z": 1.0, "a": 2.0})]

    assert render_status(one) == render_status(list(reversed(one)))
    assert render_status(one) == render_status([dataclasses.replace(s) for s in one])


def test_a_change_shows_in_that_federations_files_and_the_index_only() -> None:
    before = render_status([status(name="a"), status(name="b")])
    after = render_status([status(name="a"), status(name="b", phase=Phase.PAUSED)])

    changed = sorted(p for p in before if before[p] != after[p])
    assert changed == ["status/README.md", "status/team-a/b.md", "status/team-a/b.yaml"]


def test_yaml_layout() -> None:
    document = yaml.safe_load(render_status([status()])["status/team-a/coop-chat.yaml"])

    assert document["apiVersion"] == "thunderline.okocorp/v1"
    assert document["kind"] == "FederationStatus"
    assert document["metadata"] == {"name": "coop-chat", "tenant": "team-a"}
    body = document["status"]
    assert list(body) == [
        "phase", "reason", "observedGeneration", "generation", "specPath", "specDigest",
        "revision", "rounds", "lastMetrics", "bestRound", "artifact", "flowerRunIds",
        "flowerTarget", "conditions", "createdAt", "updatedAt", "problems", "roundHistory",
    ]  # fmt: skip
    assert body["rounds"] == {"current": 2, "total": 10}
    assert body["lastMetrics"] == {"accuracy": 0.74, "loss": 0.8}
    assert body["artifact"]["sha256"] == "e" * 64 and body["artifact"]["size"] == 3145728
    assert [c["type"] for c in body["conditions"]] == ["Ready", "Reconciling"]
    assert body["conditions"][0]["lastTransitionTime"] == "2025-03-01T12:00:00Z"
    assert body["flowerRunIds"] == [101, 102] and body["flowerTarget"] == "eu"
    assert body["updatedAt"] == "2025-03-01T12:00:00Z"
    assert body["roundHistory"][1]["metrics"] == {"accuracy": 0.74, "loss": 0.8}


def test_non_finite_metrics_become_null() -> None:
    text = render_status([status(last_metrics={"loss": float("nan")})])
    body = yaml.safe_load(text["status/team-a/coop-chat.yaml"])["status"]
    assert body["lastMetrics"] == {"loss": None}


def test_page_has_phase_conditions_rounds_chart_and_artifact() -> None:
    page = render_status([status()])["status/team-a/coop-chat.md"]

    assert page.startswith("# team-a/coop-chat\n\n**🟢 Running** (RoundInProgress) · round 2/10")
    assert "| Ready | True | Running | Round 2 of 10 is running. | 2025-03-01T12:00:00Z |" in page
    assert "| 2 | completed ★ best | 0.74 | 0.8 |" in page
    assert "```mermaid\n---\nconfig:\n" in page and "\n---\nxychart-beta\n" in page
    assert '    x-axis "round" ["1", "2"]\n    y-axis "accuracy"\n    line [0.61, 0.74]' in page
    assert '    title "loss per round"' in page
    assert "- sha256: `" + "e" * 64 + "`" in page
    assert "- Size: 3.0 MiB (3145728 bytes)" in page
    assert "[`specs/team-a/coop-chat.yaml`](../../specs/team-a/coop-chat.yaml)" in page


def test_no_chart_before_two_rounds() -> None:
    one_round = (RoundStatus(1, "running", {"accuracy": 0.5}),)
    page = render_status([status(rounds=one_round)])["status/team-a/coop-chat.md"]
    assert "mermaid" not in page
    assert "## Rounds" in page


def test_table_cells_cannot_break_the_table() -> None:
    broken = Condition(ConditionType.STALLED, "True", "Bad", "a|b\nc", "2025-03-01T12:00:00Z")
    problems = ("specs/team-a/coop-chat.yaml:3:5: spec.rounds: must be | an `integer`",)
    page = render_status([status(conditions=(broken,), problems=problems)])[
        "status/team-a/coop-chat.md"
    ]

    assert "| Stalled | True | Bad | a\\|b c | 2025-03-01T12:00:00Z |" in page
    assert "- `specs/team-a/coop-chat.yaml:3:5: spec.rounds: must be | an 'integer'`" in page


def test_index_lists_each_federation_with_a_link() -> None:
    index = render_status([status(), status(tenant="t2", name="x", phase=Phase.COMPLETED)])[
        "status/README.md"
    ]

    assert "| [team-a/coop-chat](team-a/coop-chat.md) | 🟢 Running | 2/10 | True |" in index
    assert "| [t2/x](t2/x.md) | ✅ Completed |" in index
    assert "No federations yet." in render_status([])["status/README.md"]


def test_duplicate_federations_are_a_bug() -> None:
    with pytest.raises(ValueError, match="two statuses"):
        render_status([status(), status()])


@pytest.mark.parametrize("name", ["..", "a/b", "README.md", ""])
def test_names_that_are_not_file_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        status_paths(status(name=name).key)
