"""The runtime and artifacts packages export exactly their public surface."""

from __future__ import annotations

import reconciler.artifacts
import reconciler.runtime


def test_runtime_exports() -> None:
    assert sorted(reconciler.runtime.__all__) == [
        "Artifact",
        "ArtifactInfo",
        "Directive",
        "NodeInfo",
        "ProgressClient",
        "ProgressReport",
        "ProgressSink",
        "ReportKind",
        "RunNotFound",
        "RunRejected",
        "RunRequest",
        "Runtime",
        "RuntimeFailure",
        "RuntimeUnavailable",
        "handle_progress",
        "make_token",
        "verify_token",
    ]
