"""Runtime: runs federations on Flower and hears back from them.

Light to import (no Flower import here): `base` holds the `Runtime` interface, the run
request and the errors; `progress` the ServerApp-to-daemon protocol. Import the Flower
driver from `reconciler.runtime.flower`, the local deployment from
`reconciler.runtime.local`, and the test double from `reconciler.runtime.fake`.
"""

from reconciler.runtime.base import (
    Artifact,
    NodeInfo,
    RunNotFound,
    RunRejected,
    RunRequest,
    Runtime,
    RuntimeFailure,
    RuntimeUnavailable,
)
from reconciler.runtime.progress import (
    ArtifactInfo,
    Directive,
    ProgressClient,
    ProgressReport,
    ProgressSink,
    ReportKind,
    handle_progress,
    make_token,
    verify_token,
)

__all__ = [
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
