"""Source: the spec repository as the daemon sees it.

`GitSource` fetches a remote branch into a private checkout and says which spec files
changed between revisions; `verify_webhook` authenticates push webhooks (GitHub, GitLab,
generic HMAC); `watch_repository` turns changes in a local repository into debounced
callbacks. Every failure arrives as a `SourceError` subtype.
"""

from reconciler.source.errors import (
    RevisionNotFound,
    SourceError,
    SourceMisconfigured,
    SourceUnavailable,
)
from reconciler.source.git import GitSource, Snapshot
from reconciler.source.trees import ChangeSet, diff_blob_ids, read_files_at
from reconciler.source.watch import Watcher, watch_repository
from reconciler.source.webhook import MAX_BODY_BYTES, PushEvent, WebhookRejected, verify_webhook

__all__ = [
    "MAX_BODY_BYTES",
    "ChangeSet",
    "GitSource",
    "PushEvent",
    "RevisionNotFound",
    "Snapshot",
    "SourceError",
    "SourceMisconfigured",
    "SourceUnavailable",
    "Watcher",
    "WebhookRejected",
    "diff_blob_ids",
    "read_files_at",
    "verify_webhook",
    "watch_repository",
]
