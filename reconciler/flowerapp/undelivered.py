"""What a run could not tell the daemon, left where the daemon looks once the run has ended.

A run keeps the reports it could not deliver and sends them again, in order, before its next
one (`ProgressClient`). When the run ends there is no next one: `keep_undelivered` tries a
while longer, then writes what is left, sealed with the run's token (`seal_journal`), next
to the attempt's checkpoints (`journal_name`). When Flower says the run finished, the daemon
reads that file and records its reports as if they had arrived on time
(reconciler/daemon/undelivered.py), so a round that happened while the daemon was away is
not lost. Shared by the built-in ServerApp and the SDK.
"""

from __future__ import annotations

import tempfile
from logging import INFO, WARNING
from pathlib import Path

from flwr.supercore import log

from reconciler.artifacts import ArtifactError, open_store
from reconciler.runtime.progress import ProgressClient, ProgressSink, journal_name

FLUSH_SECONDS = 20.0  # how long an ending run keeps trying to reach the daemon


def keep_undelivered(
    sink: ProgressSink, checkpoint_base: str, run_id: int, *, budget: float = FLUSH_SECONDS
) -> None:
    """Deliver what the run still holds, or leave it for the daemon in the artifact store."""
    if not isinstance(sink, ProgressClient) or not sink.pending:
        return
    if sink.flush(budget):
        return
    name = journal_name(run_id)
    with tempfile.TemporaryDirectory(prefix="thunderline-journal-") as tmp:
        local = Path(tmp) / name
        local.write_bytes(sink.sealed_undelivered(run_id))
        try:
            ref = open_store(checkpoint_base).put(local, name)
        except (ArtifactError, OSError, ValueError) as exc:  # never hide how the run ended
            log(WARNING, "%d reports never reached the daemon and are lost: %s", sink.pending, exc)
            return
    log(INFO, "the daemon is unreachable: %d reports left for it at %s", sink.pending, ref.uri)
