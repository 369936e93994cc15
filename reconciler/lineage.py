"""Which recorded rounds and checkpoints belong to a federation's current training line.

A federation trains along one line of rounds, 1, 2, 3, ..., across pauses, resumes,
recoveries and in-place updates, even though those record their rounds under newer
generations. A replacement starts a new line at round 1. Pure functions over store
records; used by `apply` (where to resume from) and the report (which rounds to show).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.store import ArtifactRecord, RoundRecord


def current_line(rounds: Sequence[RoundRecord]) -> list[RoundRecord]:
    """The rounds since the line last started at round 1, by number.

    `rounds` are ordered by generation, then number, as the store returns them; a round
    redone after a recovery replaces its first try.
    """
    line: dict[int, RoundRecord] = {}
    for r in rounds:
        if r.number == 1:
            line = {}
        line[r.number] = r
    return [line[n] for n in sorted(line)]


def resume_point(
    rounds: Sequence[RoundRecord], artifacts: Sequence[ArtifactRecord], current_round: int
) -> ArtifactRecord | None:
    """The newest checkpoint of a completed round on the current line, if any.

    `current_round` 0 means the line has not begun (a fresh generation): nothing to resume.
    """
    if current_round == 0:
        return None
    done = {(r.generation, r.number) for r in current_line(rounds) if r.status == "completed"}
    usable = [a for a in artifacts if (a.generation, a.round) in done]
    return max(usable, key=lambda a: a.round, default=None)
