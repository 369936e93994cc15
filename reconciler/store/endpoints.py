"""Where the daemon can be reached (`daemon_endpoints`): written at its start, read by the
CLI (`reconciler reconcile` finds its HTTP address, `reconciler logs` its SuperLink).
Part of `Store`.
"""

from __future__ import annotations

from reconciler.store.db import Database

HTTP = "http"
SUPERLINK = "superlink"


class DaemonEndpoints(Database):
    def record_endpoint(self, name: str, address: str) -> None:
        """Record (or move) the address named `name`."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO daemon_endpoints (name, address) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address,"
                " updated_at = now()",
                (name, address),
            )

    def endpoint(self, name: str) -> str | None:
        """The address last recorded as `name`, if any."""
        with self._read() as cur:
            cur.execute("SELECT address FROM daemon_endpoints WHERE name = %s", (name,))
            row = cur.fetchone()
        return str(row[0]) if row else None
