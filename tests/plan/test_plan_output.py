"""Golden files for the three plan formats. Regenerate with UPDATE_GOLDEN=1 after a deliberate change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.model import DesiredState, FederationKey, Phase, SpecProblem
from reconciler.plan import Plan, PlanOptions, plan
from reconciler.plan.render import COMMENT_MARKER, RENDERERS
from tests.plan.builders import record, spec

GOLDEN = Path(__file__).parent / "golden"


def sample_plan() -> Plan:
    """One federation per kind of change a PR can make, plus broken files."""
    new = spec("new-one", strategy={"name": "fedprox", "params": {"proxMu": 0.01}})
    more_rounds = spec("more-rounds", rounds__total=10)
    new_model = spec("new-model", seed=9)
    pause = spec("pause-me", paused=True)
    resume = spec("resume-me")
    stop = spec("stop-me", stop=True)
    broken = SpecProblem("specs/acme/broken.yaml", 4, 3, "spec.rounds.total", "must be >= 1")
    unnamed = SpecProblem("specs/globex/garbage.yaml", 1, 1, "", "not a YAML mapping")
    desired = DesiredState(
        specs={s.key: s for s in (new, more_rounds, new_model, pause, resume, stop)},
        problems={broken.file: (broken,), unnamed.file: (unnamed,)},
        claimed={broken.file: FederationKey("acme", "broken")},
        revision="0123456789abcdef0123",
    )
    recorded = {
        r.key: r
        for r in (
            record(spec("more-rounds"), Phase.RUNNING),
            record(spec("new-model"), Phase.RUNNING),
            record(spec("pause-me"), Phase.RUNNING),
            record(spec("resume-me", paused=True), Phase.PAUSED),
            record(spec("stop-me"), Phase.RUNNING),
            record(spec("broken"), Phase.RUNNING),
            record(spec("gone"), Phase.RUNNING),
        )
    }
    return plan(desired, recorded, None, PlanOptions(prune=True))


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("markdown", "md"), ("json", "json")])
def test_output_matches_golden_file(fmt: str, suffix: str) -> None:
    rendered = RENDERERS[fmt](sample_plan())
    golden = GOLDEN / f"plan.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(rendered)
    assert rendered == golden.read_text()


def test_markdown_summary_counts_every_kind() -> None:
    md = RENDERERS["markdown"](sample_plan())
    assert md.startswith(COMMENT_MARKER)
    expected = (
        "1 to start, 1 to update, 1 to replace, 1 to pause, 1 to resume, 2 to stop, 2 invalid"
    )
    assert expected in md


def test_json_is_machine_readable() -> None:
    doc = json.loads(RENDERERS["json"](sample_plan()))
    kinds = [a["action"] for a in doc["actions"]]
    assert kinds.count("stop") == 2 and "invalid" in kinds
    assert doc["invalidFiles"][0]["file"] == "specs/globex/garbage.yaml"
    assert doc["hasErrors"] is True


def test_no_changes_says_so() -> None:
    s = spec()
    quiet = plan(DesiredState(specs={s.key: s}), {s.key: record(s, Phase.RUNNING)})
    assert "No changes." in RENDERERS["text"](quiet)
