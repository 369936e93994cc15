"""Experiment tracking from the outbox: an `mlflow` service's lane. I/O at the edges.

A `Lane` like the notification services' (its own cursor, named after the service, so an
outage of the tracking server loses nothing and retries with backoff), whose `handle` turns
events into MLflow calls (`tracking.py` decides what each means): the first event of a
generation finds or creates its run (tags, params from the spec, the link to the run of the
generation it replaced), a completed round logs its metrics at `step` = round, a checkpoint
sets the checkpoint tags, a finished federation ends the run. Every call is safe to repeat
(runs are found by their tags, metrics are stamped with their event's time, params and tags
are set to the same values), which is what at-least-once needs. Outcomes are counted in
`thunderline_notifications_total{service, outcome}` like the notifications'.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from reconciler import lifecycle
from reconciler.model import FederationKey
from reconciler.notify import tracking
from reconciler.notify.config import ServiceConfig
from reconciler.notify.lane import Lane, Retry
from reconciler.notify.mlflowclient import Tracker, TrackingRefused, TrackingUnavailable
from reconciler.settings import Backoff
from reconciler.store import NotFound, Store
from reconciler.store.records import Event
from reconciler.telemetry.metrics import Metrics

log = logging.getLogger(__name__)
RevisionOf = Callable[[FederationKey, int], str | None]  # as delivery.RevisionOf


class MlflowLane(Lane):
    def __init__(
        self,
        service: ServiceConfig,
        *,
        store: Store,
        metrics: Metrics,
        revision_of: RevisionOf,
        backoff: Backoff,
    ) -> None:
        super().__init__(service.name, store=store, metrics=metrics, backoff=backoff)
        self.revision_of = revision_of
        self.experiment_template = service.experiment
        self.tracker = Tracker(service.tracking_uri)
        self._experiments: dict[str, str] = {}  # name -> id
        self._runs: dict[tuple[FederationKey, int], str] = {}  # (federation, generation) -> run
        self._revision_tagged: set[str] = set()  # runs whose revision tag is set

    def handle(self, event: Event) -> bool:
        if event.type not in tracking.TRACKED or event.key is None or event.generation is None:
            return False
        try:
            run_id = self._export(event, event.key, event.generation)
            self._tag_revision(run_id, event.key, event.generation)
        except TrackingUnavailable as exc:
            self.count("retried")
            raise Retry(f"event {event.id}: {exc}") from None
        except TrackingRefused as exc:
            self.count("refused")
            log.warning("%s refused event %s for good: %s", self.name, event.id, exc)
            return True
        self.count("delivered")
        return True

    def _export(self, event: Event, key: FederationKey, generation: int) -> str:
        run_id = self._run(event, key, generation)
        if event.type == lifecycle.ROUND_COMPLETED:
            step, metrics = tracking.round_metrics(event.payload)
            at = tracking.millis(event.time)
            self.tracker.log(run_id, metrics=metrics, step=step, at_ms=at)
        elif event.type == lifecycle.AGGREGATE_COMPLETED:
            self.tracker.log(run_id, tags=tracking.checkpoint_tags(event.payload))
        elif event.type in tracking.END_STATUS:
            self._end(event, key, generation, run_id)
        return run_id

    def _end(self, event: Event, key: FederationKey, generation: int, run_id: str) -> None:
        """End the generation's run, and the runs of generations it updated in place (their
        Flower run went on under the old generation's number and ended with this one)."""
        status, at = tracking.END_STATUS[event.type], tracking.millis(event.time)
        runs = self.tracker.runs_of(self._experiment(key), str(key))
        for older in runs:
            if older.generation < generation and older.status == "RUNNING":
                self.tracker.end(older.run_id, status, at)
        self.tracker.end(run_id, status, at)

    def _tag_revision(self, run_id: str, key: FederationKey, generation: int) -> None:
        """The revision the spec was loaded at, once the report step knows it (not waited
        for: the next event of the run tags it when it is known by then)."""
        if run_id in self._revision_tagged:
            return
        revision = self.revision_of(key, generation)
        if revision:
            self.tracker.log(run_id, tags={"thunderline.revision": revision})
            self._revision_tagged.add(run_id)

    def _run(self, event: Event, key: FederationKey, generation: int) -> str:
        """The generation's run: remembered, else found by its tags, else created."""
        known = self._runs.get((key, generation))
        if known is not None:
            return known
        experiment = self._experiment(key)
        runs = self.tracker.runs_of(experiment, str(key))
        mine = next((r.run_id for r in runs if r.generation == generation), None)
        if mine is None:
            mine = self.tracker.create_run(
                experiment,
                name=tracking.run_name(key, generation),
                tags=tracking.run_tags(key, generation, str(event.payload.get("digest", ""))),
                start_ms=tracking.millis(event.time),
            )
        # Again when found: a daemon killed after creating the run may not have got here.
        params, tags = self._spec(key, generation)
        self.tracker.log(mine, params=params, tags=tags)
        earlier = [r for r in runs if r.generation < generation]
        if earlier:
            previous = max(earlier, key=lambda r: r.generation)
            self.tracker.log(mine, tags={tracking.PREVIOUS_RUN_TAG: previous.run_id})
            self.tracker.log(previous.run_id, tags={tracking.REPLACED_BY_TAG: mine})
        self._runs[(key, generation)] = mine
        return mine

    def _spec(self, key: FederationKey, generation: int) -> tuple[dict[str, str], dict[str, str]]:
        """The spec's params and digest tag, while the store holds that generation's spec."""
        try:
            record = self.store.get(key)
        except NotFound:
            return {}, {}
        if record.generation != generation:
            return {}, {}  # replaced before it was exported: its spec is gone
        return tracking.spec_params(record.document), {"thunderline.spec_digest": record.digest}

    def _experiment(self, key: FederationKey) -> str:
        name = tracking.experiment_name(self.experiment_template, key)
        found = self._experiments.get(name)
        if found is None:
            found = self._experiments[name] = self.tracker.experiment(name)
        return found
