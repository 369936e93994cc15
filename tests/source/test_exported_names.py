"""The public surface of `reconciler.source` and `reconciler.report` is exactly this."""

from __future__ import annotations

import reconciler.report
import reconciler.source


def test_source_exports() -> None:
    assert sorted(reconciler.source.__all__) == sorted(
        [
            "MAX_BODY_BYTES", "ChangeSet", "GitSource", "PushEvent", "RevisionNotFound",
            "Snapshot", "SourceError", "SourceMisconfigured", "SourceUnavailable", "Watcher",
            "WebhookRejected", "diff_blob_ids", "read_files_at", "verify_webhook",
            "watch_repository",
        ]
    )  # fmt: skip
    assert all(hasattr(reconciler.source, name) for name in reconciler.source.__all__)


def test_report_exports() -> None:
    assert sorted(reconciler.report.__all__) == sorted(
        [
            "ArtifactStatus", "FederationStatus", "ReportPhase", "RoundStatus", "StatusFormatError",
            "StatusPathRefused", "StatusPushFailed", "StatusWriteError", "StatusWriter",
            "StatusWriterMisconfigured", "read_status_files", "render_status", "status_paths",
        ]
    )  # fmt: skip
    assert all(hasattr(reconciler.report, name) for name in reconciler.report.__all__)
