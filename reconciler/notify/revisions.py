"""Which commit a federation's commit status belongs on, from the report step's statuses.

The report step knows, per federation, the revision at which its spec was last loaded
(`FederationStatus.revision`). `revision_in` answers for one event's federation and
generation: the revision; `""` when there is none to put a status on (a newer generation
replaced that one, or the spec file no longer holds the recorded spec); `None` while the
statuses do not know yet (no report since the daemon started, or not up to that
generation), and the delivery waits. Pure; the daemon passes its reporter's statuses.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model import FederationKey
from reconciler.report import FederationStatus


def revision_in(
    statuses: Mapping[FederationKey, FederationStatus] | None, key: FederationKey, generation: int
) -> str | None:
    if statuses is None:
        return None
    status = statuses.get(key)
    if status is None or status.generation < generation:
        return None
    if status.generation > generation:
        return ""
    return status.revision
