"""The lifecycle table itself (pure): exactly the decided transitions, each with its event."""

from __future__ import annotations

import itertools

import pytest

from reconciler import lifecycle
from reconciler.lifecycle import IllegalTransition
from reconciler.model import Phase

P = Phase
DECIDED: dict[tuple[Phase | None, Phase], str] = {
    (None, P.PENDING): "fl.federation.created",
    (P.PENDING, P.STARTING): "fl.federation.started",
    (P.STARTING, P.RUNNING): "fl.federation.running",
    (P.RUNNING, P.STARTING): "fl.federation.started",
    (P.STARTING, P.STARTING): "fl.federation.started",  # recovery before the first round
    (P.PAUSED, P.STARTING): "fl.federation.resumed",
    (P.PENDING, P.PAUSED): "fl.federation.paused",
    (P.STARTING, P.PAUSED): "fl.federation.paused",
    (P.RUNNING, P.PAUSED): "fl.federation.paused",
    (P.STARTING, P.COMPLETED): "fl.federation.completed",
    (P.RUNNING, P.COMPLETED): "fl.federation.completed",
    **{(p, P.FAILED): "fl.federation.failed" for p in (P.PENDING, P.STARTING, P.RUNNING, P.PAUSED)},
    **{
        (p, P.STOPPED): "fl.federation.stopped"
        for p in (P.PENDING, P.STARTING, P.RUNNING, P.PAUSED)
    },
    (P.COMPLETED, P.PENDING): "fl.federation.created",
    (P.FAILED, P.PENDING): "fl.federation.created",
    (P.STOPPED, P.PENDING): "fl.federation.created",
}
EVERY_PAIR = list(itertools.product([None, *Phase], Phase))


@pytest.mark.parametrize(("from_", "to"), list(DECIDED))
def test_decided_transition_is_allowed_with_its_event(from_: Phase | None, to: Phase) -> None:
    lifecycle.check(from_, to)

    assert to in lifecycle.ALLOWED[from_]
    assert lifecycle.event_type(from_, to) == DECIDED[(from_, to)]


@pytest.mark.parametrize(("from_", "to"), [p for p in EVERY_PAIR if p not in DECIDED])
def test_every_other_transition_is_illegal(from_: Phase | None, to: Phase) -> None:
    with pytest.raises(IllegalTransition) as raised:
        lifecycle.event_type(from_, to)

    assert to not in lifecycle.ALLOWED[from_]
    assert to.value in str(raised.value)


def test_allowed_covers_every_phase_and_the_new_state() -> None:
    assert set(lifecycle.ALLOWED) == {None, *Phase}
    assert sum(len(v) for v in lifecycle.ALLOWED.values()) == len(DECIDED)


def test_terminal_phases_lead_only_to_a_new_generation() -> None:
    for phase in Phase:
        if phase.terminal:
            assert lifecycle.ALLOWED[phase] == {Phase.PENDING}
