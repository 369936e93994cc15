"""`Store`: the recorded state, as one object over a connection pool.

    with Store.connect(url) as store:
        store.migrate()
        recorded = store.load_recorded()

The methods live in one module per job: `federations` (load, create, transitions, spec
replacement), `runs` (Flower run ids), `progress` (rounds, artifacts, clients, status rows),
`outbox` (events, reconcile cycles), `findings` (step errors, specs without a federation),
`cursors` (each notification service's place in the outbox), `notices` (invalid specs and
stalled rounds, raised once), `nodes` (SuperNode labels runs reported, per tenant), `views`
(the console's reads), `history` (one federation's past, for the CLI), `endpoints` (where
the CLI reaches the daemon and its SuperLink);
`db` holds the pool and transactions.
"""

from __future__ import annotations

from reconciler.store.bulk import Bulk
from reconciler.store.cursors import DeliveryCursors
from reconciler.store.endpoints import DaemonEndpoints
from reconciler.store.federations import Federations
from reconciler.store.findings import DaemonFindings
from reconciler.store.history import History
from reconciler.store.nodes import NodeLabelBook
from reconciler.store.notices import Notices
from reconciler.store.outbox import Outbox
from reconciler.store.progress import Progress
from reconciler.store.reports import Reports
from reconciler.store.runs import Runs
from reconciler.store.views import Views


class Store(
    Federations,
    Runs,
    Progress,
    Outbox,
    Bulk,
    Reports,
    DaemonFindings,
    DeliveryCursors,
    Notices,
    NodeLabelBook,
    Views,
    History,
    DaemonEndpoints,
):
    """The reconciler's recorded state in PostgreSQL. Thread-safe: share one per process."""
