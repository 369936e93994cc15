"""The Flower driver: `Runtime` over a SuperLink's Control API.

`apply` calls it to submit, find, observe and stop runs; the CLI reads logs and nodes
through it. Every run carries its federation, generation and attempt in the `control`
run-config key, so that after a crash the driver finds and adopts the run it already
started (StartRun has no idempotency key). httpx and Flower errors are translated here
into `RuntimeUnavailable` (retry) and `RunRejected` (needs a person).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
from flwr.common.serde import fab_to_proto, user_config_to_proto
from flwr.proto.control_pb2 import (  # pylint: disable=E0611
    ListNodesRequest,
    ListRunsRequest,
    RegisterNodeRequest,
    StartRunRequest,
    StopRunRequest,
    StreamLogsRequest,
)
from flwr.supercore.control.control_http_client import ControlHttpClient
from flwr.supercore.fab import Fab

from reconciler.flowerapp import FAB_DIR
from reconciler.flowerapp.settings import (
    CONTROL_KEY,
    Control,
    Pointer,
    control_identity,
    plan_problems,
    run_config,
    spec_terms,
)
from reconciler.model import DEFAULT_TARGET, FederationKey, RunObservation
from reconciler.runtime.apps import prepare_app
from reconciler.runtime.base import (
    NodeInfo,
    RunNotFound,
    RunRejected,
    RunRequest,
    RuntimeUnavailable,
    require_target,
)
from reconciler.runtime.tls import Transport, choose_transport, explain, plaintext_hint
from reconciler.specs.apps import APP_CONTROL_KEY

T = TypeVar("T")
PAGE = 100
MAX_PAGES = 100
LOG_WAIT_SECONDS = 2.0
# What a plaintext request to a TLS port gets: the server drops the connection unanswered.
_NO_ANSWER = (httpx.RemoteProtocolError, httpx.ReadError)


@cache
def app_fab() -> Fab:
    """The project's FAB, built once per process (deterministic bytes, stable hash)."""
    from flwr.cli.build import build_fab_from_disk  # lazily: see apps._fab

    content = build_fab_from_disk(FAB_DIR)
    return Fab(hashlib.sha256(content).hexdigest(), content, {})


def control_for(req: RunRequest) -> Control:
    resume = req.resume_from
    return Control(
        federation=str(req.key),
        generation=req.generation,
        attempt=req.attempt,
        start_round=req.start_round,
        checkpoint_base=req.checkpoint_base,
        repo_root=req.repo_root,
        progress_url=req.progress_url,
        resume_from=Pointer(resume.uri, resume.sha256) if resume else None,
        traceparent=req.traceparent,
        strategies=req.strategies,
        **spec_terms(_spec_body(req.document), req.key.tenant),
    )


def _spec_body(document: Mapping[str, Any]) -> Mapping[str, Any]:
    body = document.get("spec")
    return body if isinstance(body, Mapping) else {}


def _error_detail(response: httpx.Response) -> str:
    try:
        body = json.loads(response.content[:4096])
        return str(body.get("message") or body.get("detail") or body)
    except ValueError:
        return response.reason_phrase


class FlowerRuntime:
    """A `Runtime` for one SuperLink at `address` ("host:port"), reached over `transport`
    (default: `choose_transport` without a CA file: plaintext to loopback, else TLS), known
    as target `name` (its runs' observations carry it; `runtime.targets` routes to several).

    Raises `TlsConfigError` when the transport's CA file cannot be used.
    """

    def __init__(
        self, address: str, *, transport: Transport | None = None, name: str = DEFAULT_TARGET
    ) -> None:
        self.address = address
        self.name = name
        self.transport = transport or choose_transport(address, ca_file=None, insecure=False)
        self._client = ControlHttpClient.from_server_address(
            server_address=address,
            insecure=self.transport.insecure,
            root_certificates=self.transport.root_certificates(),
            interceptors=[],
        )

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.name,)

    def close(self) -> None:
        self._client.close()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except httpx.HTTPStatusError as exc:
            status, detail = exc.response.status_code, _error_detail(exc.response)
            if status == 404:
                raise RunNotFound(f"{what}: {detail}") from None
            if status >= 500:
                raise RuntimeUnavailable(f"{what}: SuperLink error {status}: {detail}") from None
            raise RunRejected(f"{what}: SuperLink refused (HTTP {status}): {detail}") from None
        except (httpx.HTTPError, ValueError) as exc:
            raise RuntimeUnavailable(f"{what}: {self._unreachable(exc)}") from None

    def _unreachable(self, exc: Exception) -> str:
        """Why the SuperLink did not answer, worded for a person when TLS is the cause."""
        tls_failure = explain(exc, self.address, self.transport)
        if tls_failure is not None:
            return tls_failure
        hint = plaintext_hint(self.transport) if isinstance(exc, _NO_ANSWER) else ""
        return f"SuperLink at {self.address} unreachable: {exc}{hint}"

    def submit(self, req: RunRequest) -> int:
        require_target(self.name, req.target)
        try:
            team_app = prepare_app(req.document, Path(req.repo_root))
        except RunRejected as exc:
            raise RunRejected(f"{req.key}: {exc}") from None
        problems = plan_problems(req.document) if team_app is None else []
        if problems:
            raise RunRejected(f"{req.key}: " + "; ".join(problems))
        existing = self.find_run(req.key, req.generation, req.attempt, target=req.target)
        if existing is not None:
            return existing
        overrides: dict[str, bool | float | int | str] = {}
        if team_app is None:
            fab = app_fab()
            overrides.update(run_config(req.document, control_for(req)))
        else:
            fab = team_app.fab
            overrides.update(team_app.overrides(control_for(req)))
        request = StartRunRequest(
            fab=fab_to_proto(fab), override_config=user_config_to_proto(overrides)
        )
        response = self._call(f"start run for {req.key}", lambda: self._client.StartRun(request))
        if not response.HasField("run_id"):
            raise RunRejected(f"{req.key}: the SuperLink did not create a run ({response.note})")
        return int(response.run_id)

    def _runs(self) -> Iterator[Any]:
        """Every run the SuperLink lists, newest first, page by page."""
        for page in range(MAX_PAGES):
            runs = self._list_page(page)
            yield from sorted(runs.values(), key=lambda run: -run.run_id)
            if len(runs) < PAGE:
                return

    def _list_page(self, page: int) -> Any:
        request = ListRunsRequest(limit=PAGE, skip=page * PAGE)
        return self._call("list runs", lambda: self._client.ListRuns(request)).run_dict

    @staticmethod
    def _identity(run: Any) -> tuple[str, int, int] | None:
        """(federation, generation, attempt) of a run this reconciler submitted, else None.
        The built-in app carries it in `control`, a team's app in `thunderline-control`."""
        for key in (CONTROL_KEY, APP_CONTROL_KEY):
            scalar = run.override_config.get(key)
            if scalar is not None:
                return control_identity(scalar.string)
        return None

    def find_run(
        self,
        federation: FederationKey,
        generation: int,
        attempt: int,
        *,
        target: str = DEFAULT_TARGET,
    ) -> int | None:
        require_target(self.name, target)
        wanted = (str(federation), generation, attempt)
        for run in self._runs():
            if self._identity(run) == wanted:
                return int(run.run_id)
        return None

    def observe(self) -> list[RunObservation]:
        observed = []
        for run in self._runs():
            identity = self._identity(run)
            if identity is None:
                continue
            tenant, _, name = identity[0].partition("/")
            observed.append(
                RunObservation(
                    key=FederationKey(tenant, name),
                    run_id=int(run.run_id),
                    generation=identity[1],
                    attempt=identity[2],
                    status=run.status.status,
                    sub_status=run.status.sub_status,
                    details=run.status.details,
                    target=self.name,
                )
            )
        return observed

    def status(self, run_id: int) -> tuple[str, str, str]:
        """(status, sub_status, details) of one run."""
        request = ListRunsRequest(run_id=run_id)
        runs = self._call(f"run {run_id}", lambda: self._client.ListRuns(request)).run_dict
        if run_id not in runs:
            raise RunNotFound(f"run {run_id} not found")
        status = runs[run_id].status
        return status.status, status.sub_status, status.details

    def stop(self, run_id: int, *, target: str = DEFAULT_TARGET) -> None:
        require_target(self.name, target)
        if self.status(run_id)[0] == "finished":
            return
        request = StopRunRequest(run_id=run_id)
        with contextlib.suppress(RunRejected):  # 412: it finished in between
            self._call(f"stop run {run_id}", lambda: self._client.StopRun(request))

    def logs(self, run_id: int, *, after: float = 0, target: str = DEFAULT_TARGET) -> list[str]:
        """Log lines after `after`; waits at most ~2 s for a running run's first lines."""
        require_target(self.name, target)
        request = StreamLogsRequest(run_id=run_id, after_timestamp=after)
        chunks: queue.Queue[str | BaseException] = queue.Queue()

        def first_chunk() -> None:
            try:
                stream = self._client.StreamLogs(request)
                try:
                    response = next(stream, None)
                finally:
                    stream.close()
                chunks.put(response.log_output if response is not None else "")
            except BaseException as exc:  # handed to the caller's thread below
                chunks.put(exc)

        threading.Thread(target=first_chunk, daemon=True, name=f"logs-{run_id}").start()
        try:
            item = chunks.get(timeout=LOG_WAIT_SECONDS)
        except queue.Empty:
            return []
        if isinstance(item, BaseException):
            error = item
            self._call(f"logs of run {run_id}", lambda: _reraise(error))
            return []
        return item.splitlines()

    def register_node(self, public_key: bytes) -> int:
        """Admit a SuperNode by its public key (PEM) to a SuperLink that runs with
        `--enable-supernode-auth`; returns the node id it will have."""
        request = RegisterNodeRequest(public_key=public_key)
        response = self._call("register node", lambda: self._client.RegisterNode(request))
        return int(response.node_id)

    def nodes(self, *, target: str = DEFAULT_TARGET) -> list[NodeInfo]:
        require_target(self.name, target)
        response = self._call("list nodes", lambda: self._client.ListNodes(ListNodesRequest()))
        return [
            NodeInfo(node_id=int(n.node_id), online=n.status == "online", status=n.status)
            for n in response.nodes_info
        ]


def _reraise(exc: BaseException) -> None:
    raise exc
