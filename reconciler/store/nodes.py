"""The labels a tenant's runs reported for SuperNodes (`node_labels`, migration 0007).

The progress sink records a run's `node_labels` report here under the run's tenant; the
daemon's cycle reads them back while some spec has a clientSelector, for admission
(`selector.NodeLabels`). Rows not seen for `FORGET_AFTER` are dropped when new ones come:
Flower gives a SuperNode a new id when it registers again, so old ids only pile up.
Part of `Store`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from psycopg.types.json import Jsonb

from reconciler.selector import Labels
from reconciler.store.db import Database

FORGET_AFTER = "7 days"


class NodeLabelBook(Database):
    """SuperNode labels per tenant."""

    def nodes_labelled(self, tenant: str, labels: Mapping[int, Labels]) -> None:
        """Record what `tenant`'s run saw (the newest answer per node wins)."""
        if not labels:
            return
        rows = [(tenant, str(node), Jsonb(dict(found))) for node, found in labels.items()]
        with self._tx() as cur:
            cur.executemany(
                "INSERT INTO node_labels (tenant, node_id, labels) VALUES (%s, %s, %s)"
                " ON CONFLICT (tenant, node_id) DO UPDATE"
                " SET labels = EXCLUDED.labels, seen_at = now()",
                rows,
            )
            cur.execute(
                "DELETE FROM node_labels WHERE seen_at < now() - %s::interval", (FORGET_AFTER,)
            )

    def node_labels(self) -> dict[str, dict[int, dict[str, str]]]:
        """tenant -> node id -> labels, as reported."""
        with self._tx() as cur:
            cur.execute("SELECT tenant, node_id, labels FROM node_labels")
            rows = cur.fetchall()
        found: dict[str, dict[int, dict[str, str]]] = {}
        for tenant, node, labels in rows:
            body = json.loads(labels) if isinstance(labels, str) else labels
            found.setdefault(str(tenant), {})[int(node)] = {
                str(k): str(v) for k, v in dict(body).items()
            }
        return found
