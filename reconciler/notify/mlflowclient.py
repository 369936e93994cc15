"""The edge to an MLflow tracking server: mlflow-skinny's `MlflowClient`, its errors translated.

`Tracker(uri)` offers the few calls the export needs (experiments, runs found by their
tags, runs created, logged to and ended). MLflow's own exceptions and the HTTP library's are
translated here and nowhere else: `TrackingUnavailable` (no answer, a 5xx, 408 or 429:
retried by the lane) and `TrackingRefused` (any other 4xx: this request will never be
accepted). MLflow retries each request itself for minutes by default, which would hold back
the other services' lanes on the same thread; unless the operator set them, the client is
told to try once with a 10 s timeout (`MLFLOW_HTTP_REQUEST_MAX_RETRIES`,
`MLFLOW_HTTP_REQUEST_TIMEOUT`) and the lane's backoff does the retrying, and not to print
each ended run's link on stdout. `mlflow` is imported
only when a tracker is made (`pip install '.[mlflow]'`). Messages never quote the URI.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # a run's link on stdout per end
}
_RETRIED_STATUS = frozenset({408, 425, 429})
BATCH_LIMIT = 100  # params (and metrics) MLflow takes per log-batch request
FEDERATION_TAG = "thunderline.federation"
GENERATION_TAG = "thunderline.generation"


class TrackingUnavailable(Exception):
    """The tracking server did not answer, or answered that it cannot now: retried."""


class TrackingRefused(Exception):
    """The tracking server refused the request for good."""


@dataclass(frozen=True)
class FoundRun:
    run_id: str
    generation: int
    status: str  # RUNNING | FINISHED | FAILED | KILLED | SCHEDULED


def installed() -> bool:
    """The mlflow client can be imported (the `mlflow` extra is installed)."""
    return importlib.util.find_spec("mlflow") is not None


@contextmanager
def _translated(what: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException
    from requests import RequestException

    try:
        yield
    except MlflowException as exc:
        status = int(exc.get_http_status_code())  # type: ignore[no-untyped-call]
        text = f"{what}: {exc.error_code} (HTTP {status})"
        if 400 <= status < 500 and status not in _RETRIED_STATUS:
            raise TrackingRefused(text) from None
        raise TrackingUnavailable(text) from None
    except (RequestException, OSError) as exc:
        raise TrackingUnavailable(f"{what}: unreachable ({type(exc).__name__})") from None


class Tracker:
    def __init__(self, uri: str) -> None:
        for name, value in _CLIENT_DEFAULTS.items():
            os.environ.setdefault(name, value)
        from mlflow.tracking import MlflowClient

        self._client = MlflowClient(tracking_uri=uri)

    def experiment(self, name: str) -> str:
        """The id of the experiment called `name`, made when missing."""
        with _translated("get experiment"):
            found = self._client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
        try:
            with _translated("create experiment"):
                return str(self._client.create_experiment(name))
        except TrackingRefused:  # made meanwhile by someone else (RESOURCE_ALREADY_EXISTS)
            with _translated("get experiment"):
                again = self._client.get_experiment_by_name(name)
            if again is None:
                raise
            return str(again.experiment_id)

    def runs_of(self, experiment_id: str, federation: str) -> list[FoundRun]:
        """Every run tagged with the federation ("tenant/name": DNS labels, safe to quote)."""
        query = f"tags.`{FEDERATION_TAG}` = '{federation}'"
        with _translated("search runs"):
            runs = self._client.search_runs([experiment_id], query, max_results=1000)
        return [
            FoundRun(r.info.run_id, int(r.data.tags.get(GENERATION_TAG, "0")), r.info.status)
            for r in runs
        ]

    def create_run(
        self, experiment_id: str, *, name: str, tags: Mapping[str, str], start_ms: int
    ) -> str:
        with _translated("create run"):
            run = self._client.create_run(
                experiment_id, start_time=start_ms, tags=dict(tags), run_name=name
            )
        return str(run.info.run_id)

    def log(
        self,
        run_id: str,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        step: int = 0,
        at_ms: int = 0,
    ) -> None:
        """Params, tags and metrics (at `step`, stamped `at_ms`: the same call made twice
        logs nothing twice), in batches MLflow accepts."""
        from mlflow.entities import Metric, Param, RunTag

        items: list[Any] = [Param(k, v) for k, v in (params or {}).items()]
        items += [RunTag(k, v) for k, v in (tags or {}).items()]
        items += [Metric(k, v, at_ms, step) for k, v in (metrics or {}).items()]
        for start in range(0, len(items), BATCH_LIMIT):
            chunk = items[start : start + BATCH_LIMIT]
            with _translated("log batch"):
                self._client.log_batch(
                    run_id,
                    metrics=[i for i in chunk if isinstance(i, Metric)],
                    params=[i for i in chunk if isinstance(i, Param)],
                    tags=[i for i in chunk if isinstance(i, RunTag)],
                )

    def end(self, run_id: str, status: str, end_ms: int) -> None:
        with _translated("end run"):
            self._client.set_terminated(run_id, status=status, end_time=end_ms)
