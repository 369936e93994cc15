"""Whatever text and numbers a status holds, any YAML reader gets the same values back."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.model import Condition, ConditionType
from reconciler.report import RoundStatus, render_status
from tests.report.builders import status

texts = st.text(max_size=40)
numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**12), 10**12)


@settings(max_examples=200, deadline=None)
@given(
    reason=texts,
    message=texts,
    problems=st.lists(texts, max_size=3),
    metrics=st.dictionaries(st.text(min_size=1, max_size=10), numbers, max_size=4),
)
def test_values_survive_yaml(
    reason: str, message: str, problems: list[str], metrics: dict[str, float]
) -> None:
    condition = Condition(ConditionType.READY, "True", reason, message, "2025-03-01T12:00:00Z")
    rendered = render_status(
        [
            status(
                reason=reason,
                conditions=(condition,),
                problems=tuple(problems),
                last_metrics=metrics,
                rounds=(RoundStatus(1, "completed", metrics),),
            )
        ]
    )["status/team-a/coop-chat.yaml"]

    body = yaml.safe_load(rendered)["status"]

    assert body["reason"] == reason
    assert body["conditions"][0]["message"] == message
    assert body["problems"] == problems
    expected = {name: float(value) for name, value in metrics.items()}
    assert body["lastMetrics"] == expected
    assert body["roundHistory"][0]["metrics"] == expected
    assert all(isinstance(v, float) for v in body["lastMetrics"].values())
