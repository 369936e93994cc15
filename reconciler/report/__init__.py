"""Report: status files committed back into the spec repository.

`render_status` turns `FederationStatus` values into the texts of `status/` (pure);
`StatusWriter` commits and pushes them (only when something changed, never outside
`status/`, never forced); `read_status_files` reads the YAML back as recorded state for
`reconciler plan --against status`.
"""

from reconciler.report.model import ArtifactStatus, FederationStatus, ReportPhase, RoundStatus
from reconciler.report.read import StatusFormatError, read_status_files
from reconciler.report.render import render_status, status_paths
from reconciler.report.writer import (
    StatusPathRefused,
    StatusPushFailed,
    StatusWriteError,
    StatusWriter,
    StatusWriterMisconfigured,
)

__all__ = [
    "ArtifactStatus",
    "FederationStatus",
    "ReportPhase",
    "RoundStatus",
    "StatusFormatError",
    "StatusPathRefused",
    "StatusPushFailed",
    "StatusWriteError",
    "StatusWriter",
    "StatusWriterMisconfigured",
    "read_status_files",
    "render_status",
    "status_paths",
]
