"""The committed YAML reads back as the recorded state `plan --against status` needs."""

from __future__ import annotations

import pytest

from reconciler.model import FederationKey, Phase, RecordedFederation
from reconciler.report import StatusFormatError, read_status_files, render_status
from tests.report.builders import status


def _as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode() for path, text in files.items()}


def test_render_then_read_gives_the_recorded_federations() -> None:
    files = render_status(
        [status(), status(tenant="t2", name="done", phase=Phase.COMPLETED, current_round=10)]
    )

    recorded = read_status_files(_as_bytes(files))

    assert recorded[FederationKey("team-a", "coop-chat")] == RecordedFederation(
        key=FederationKey("team-a", "coop-chat"),
        path="specs/team-a/coop-chat.yaml",
        document={},
        digest="d" * 64,
        generation=2,
        observed_generation=2,
        phase=Phase.RUNNING,
        reason="RoundInProgress",
        current_round=2,
        total_rounds=10,
    )
    done = recorded[FederationKey("t2", "done")]
    assert (done.phase, done.current_round) == (Phase.COMPLETED, 10)


def test_no_status_folder_means_nothing_recorded() -> None:
    assert read_status_files({}) == {}
    assert read_status_files(_as_bytes(render_status([]))) == {}


@pytest.mark.parametrize(
    "content",
    [
        b"phase: [unclosed",
        b"just text",
        b"apiVersion: other/v9\nkind: FederationStatus\n",
        b"apiVersion: thunderline.okocorp/v1\nkind: FederationStatus\nmetadata: {name: a}\n",
        b"apiVersion: thunderline.okocorp/v1\nkind: FederationStatus\n"
        b"metadata: {name: a, tenant: t}\nstatus: {phase: Exploded}\n",
    ],
)
def test_unreadable_reports_name_their_file(content: bytes) -> None:
    with pytest.raises(StatusFormatError, match=r"status/t/a\.yaml"):
        read_status_files({"status/t/a.yaml": content})
