"""Notifications: federation events from the outbox to webhooks, Slack and commit statuses.

`load_notifications(path)` reads the operator's file (`schema/notifications.schema.json`);
`Notifier` is the daemon's delivery thread; `signing.verify` is what a webhook receiver runs.
See docs/notifications.md.
"""

from reconciler.notify.config import NotificationsInvalid, NotifyConfig, load_notifications
from reconciler.notify.delivery import Notifier
from reconciler.notify.revisions import revision_in
from reconciler.notify.signing import verify

__all__ = [
    "NotificationsInvalid",
    "Notifier",
    "NotifyConfig",
    "load_notifications",
    "revision_in",
    "verify",
]
