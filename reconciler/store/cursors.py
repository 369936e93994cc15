"""Each notification service's place in the event outbox (`notification_cursors`).

The delivery thread (`reconciler.notify.delivery`) reads a service's cursor when it starts
leading, reads the events after it with `Outbox.events(after_id=...)`, and moves the cursor
on only past events that were delivered or were not for that service. A cursor never moves
back: two replicas delivering at once during a failover cannot undo each other's progress.
Part of `Store`.
"""

from __future__ import annotations

from reconciler.store.db import Database


class DeliveryCursors(Database):
    """Where each notification service has got to in the outbox."""

    def delivery_cursor(self, service: str) -> int:
        """The id of the last event `service` is done with. A service not seen before starts
        at the newest event: it is told what happens from now on, not the outbox's history."""
        with self._tx() as cur:
            # Events become visible in id order (outbox.py), so max(id) skips none to come.
            cur.execute(
                "INSERT INTO notification_cursors (service, after_id)"
                " SELECT %s, COALESCE(max(id), 0) FROM events ON CONFLICT (service) DO NOTHING",
                (service,),
            )
            cur.execute("SELECT after_id FROM notification_cursors WHERE service = %s", (service,))
            row = cur.fetchone()
        assert row is not None
        return int(row[0])

    def advance_delivery_cursor(self, service: str, after_id: int) -> None:
        """`service` is done with every event up to `after_id`."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE notification_cursors SET after_id = GREATEST(after_id, %s),"
                " updated_at = now() WHERE service = %s",
                (after_id, service),
            )
