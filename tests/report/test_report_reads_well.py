"""What a reviewer reads on a status page: a visible chart line, no chart for a constant
series, the best round marked (also `bestRound` in the YAML), and no round of a finished
federation left "started"."""

from __future__ import annotations

import pytest
import yaml

from reconciler.model import Phase
from reconciler.report import RoundStatus, render_status
from tests.report.builders import status

PAGE, YAML = "status/team-a/coop-chat.md", "status/team-a/coop-chat.yaml"
# The DP example: accuracy fell after round 2, clients were 3 throughout.
FELL = (
    RoundStatus(1, "completed", {"accuracy": 0.52, "clients": 3.0}),
    RoundStatus(2, "completed", {"accuracy": 0.635, "clients": 3.0}),
    RoundStatus(3, "completed", {"accuracy": 0.571, "clients": 3.0}),
)


def test_chart_line_has_a_colour_that_reads_on_light_and_dark() -> None:
    page = render_status([status()])[PAGE]

    chart = page.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert chart.startswith("---\nconfig:\n  themeVariables:\n    xyChart:\n")
    assert '      plotColorPalette: "#2563eb"\n---\nxychart-beta\n' in chart


def test_a_constant_series_is_a_sentence_not_a_chart() -> None:
    page = render_status([status(rounds=FELL, phase=Phase.COMPLETED)])[PAGE]

    assert page.count("xychart-beta") == 1  # accuracy only
    assert '"clients per round"' not in page
    assert "- clients: 3 in every round" in page


def test_best_round_is_marked_with_its_metric() -> None:
    files = render_status([status(rounds=FELL, phase=Phase.COMPLETED, artifact=None)])

    assert "- **Best round:** 2 (accuracy 0.635)\n" in files[PAGE]
    assert "| 2 | completed ★ best |" in files[PAGE]
    assert files[PAGE].count("★ best") == 1
    best = yaml.safe_load(files[YAML])["status"]["bestRound"]
    assert best == {"number": 2, "metric": "accuracy", "value": 0.635, "checkpoint": None}


def test_best_round_names_its_checkpoint_when_it_is_the_latest() -> None:
    files = render_status([status()])  # round 2 is best and the artifact is round 2's

    uri = "s3://models/team-a/coop-chat/r2.npz"
    assert f"- **Best round:** 2 (accuracy 0.74), checkpoint `{uri}`\n" in files[PAGE]
    assert yaml.safe_load(files[YAML])["status"]["bestRound"]["checkpoint"] == uri


def test_loss_decides_when_there_is_no_accuracy() -> None:
    rounds = (
        RoundStatus(1, "completed", {"loss": 0.9}),
        RoundStatus(2, "completed", {"loss": 1.1}),
    )
    best = yaml.safe_load(render_status([status(rounds=rounds)])[YAML])["status"]["bestRound"]

    assert (best["number"], best["metric"]) == (1, "loss")


def test_no_best_round_without_a_deciding_metric() -> None:
    rounds = (RoundStatus(1, "completed", {"clients": 3.0}),)
    files = render_status([status(rounds=rounds)])

    assert "- **Best round:** -\n" in files[PAGE]
    assert yaml.safe_load(files[YAML])["status"]["bestRound"] is None


@pytest.mark.parametrize("phase", [Phase.STOPPED, Phase.FAILED, Phase.COMPLETED])
def test_a_finished_federation_has_no_round_under_way(phase: Phase) -> None:
    rounds = (*FELL[:2], RoundStatus(3, "started", {}))
    files = render_status([status(rounds=rounds, phase=phase)])

    history = yaml.safe_load(files[YAML])["status"]["roundHistory"]
    assert [r["status"] for r in history] == ["completed", "completed", "interrupted"]
    assert "| 3 | interrupted |" in files[PAGE]


def test_a_running_federation_keeps_its_round_started() -> None:
    rounds = (*FELL[:2], RoundStatus(3, "started", {}))
    history = yaml.safe_load(render_status([status(rounds=rounds)])[YAML])["status"]["roundHistory"]

    assert history[-1]["status"] == "started"
