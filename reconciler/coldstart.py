"""Start many new federations at once: the first cycle over a large repository.

`Applier.apply` hands its batch of brand-new federations here instead of starting them one
by one: they are recorded with one statement per chunk, their runs submitted (adopting any
already submitted, as a single start does), and the runs and moves to Starting recorded
with one more statement per chunk. Failures stay per federation: one that could not be
submitted is left Pending, and the next cycle's plan starts it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.faults import fault_point
from reconciler.model import RecordedFederation
from reconciler.plan import Action
from reconciler.runtime.base import RunRejected, RunRequest, Runtime, RuntimeFailure
from reconciler.store import Store, StoreError
from reconciler.store.bulk import Launch

CHUNK = 1000  # federations per transaction: bounds lock time and statement size

Result = tuple[Action, str, bool]  # action, error ("" on success), transient


Rejected = Callable[[Action, RunRejected], Result]  # what a single start does on refusal


def start_new(
    actions: Sequence[Action],
    *,
    store: Store,
    runtime: Runtime,
    request: Callable[[RecordedFederation], RunRequest],
    rejected: Rejected,
) -> list[Result]:
    results: list[Result] = []
    for at in range(0, len(actions), CHUNK):
        results += _chunk(actions[at : at + CHUNK], store, runtime, request, rejected)
    return results


def _chunk(
    actions: Sequence[Action],
    store: Store,
    runtime: Runtime,
    request: Callable[[RecordedFederation], RunRequest],
    rejected: Rejected,
) -> list[Result]:
    by_key = {a.key: a for a in actions}
    try:
        created = store.create_many([a.spec for a in actions if a.spec is not None])
    except StoreError as exc:
        return [(a, f"start failed: {exc}", True) for a in actions]
    recorded = {f.key for f in created}
    results: list[Result] = [
        (a, "start skipped: recorded meanwhile by another writer", True)
        for a in actions
        if a.key not in recorded
    ]
    launches = []
    fault_point("coldstart.before-submit")
    for record in created:
        try:
            req = request(record)
            launches.append(Launch(record, _submit(runtime, req), target=req.target))
        except RunRejected as exc:
            results.append(rejected(by_key[record.key], exc))
        except RuntimeFailure as exc:
            results.append((by_key[record.key], f"start failed: {exc}", True))
    fault_point("coldstart.after-submit")
    try:
        launched = {f.key for f in store.launch_many(launches)}
    except StoreError as exc:
        return results + [(by_key[x.record.key], f"start failed: {exc}", True) for x in launches]
    fault_point("coldstart.after-commit")
    for launch in launches:
        key = launch.record.key
        lost = "start not recorded: changed meanwhile" if key not in launched else ""
        results.append((by_key[key], lost, True))
    return results


def _submit(runtime: Runtime, req: RunRequest) -> int:
    found = runtime.find_run(req.key, req.generation, req.attempt, target=req.target)
    return found if found is not None else runtime.submit(req)
