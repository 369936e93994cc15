"""The public surface of `reconciler.notify` is exactly this."""

from __future__ import annotations

import reconciler.notify


def test_notify_exports() -> None:
    assert sorted(reconciler.notify.__all__) == sorted(
        ["NotificationsInvalid", "Notifier", "NotifyConfig", "load_notifications",
         "revision_in", "verify"]
    )  # fmt: skip
    assert all(hasattr(reconciler.notify, name) for name in reconciler.notify.__all__)
