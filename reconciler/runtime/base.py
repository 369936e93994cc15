"""The runtime interface: what `apply` asks of a federated-learning runtime.

`FlowerRuntime` (a real SuperLink) and `FakeRuntime` (in memory, for tests of the layers
above) implement `Runtime`. Errors say what the caller should do next:
`RuntimeUnavailable` is transient (retry with backoff), `RunRejected` needs a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.model import DEFAULT_TARGET, FederationKey, RunObservation


class RuntimeFailure(Exception):
    """Base of the runtime's own errors."""


class RuntimeUnavailable(RuntimeFailure):
    """The runtime could not be reached or answered with a server error: retry later."""


class RunRejected(RuntimeFailure):
    """The runtime refused the run (bad spec for this app, unknown config key): needs a person."""


class RunNotFound(RuntimeFailure):
    """No run with that id exists on the runtime."""


@dataclass(frozen=True)
class Artifact:
    """A checkpoint to resume from."""

    uri: str
    sha256: str


@dataclass(frozen=True)
class RunRequest:
    """Everything needed to start one Flower run of one federation generation.

    `target` names the SuperLink to run on (`runtime.targets`). `start_round` is the
    federation's round number the run starts at (1 for a fresh
    start; r + 1 when resuming after round r from `resume_from`). `checkpoint_base` is a
    URI under which the run writes `round-NNNN.npz` checkpoints. `progress_url` is where
    the ServerApp reports each step (see `runtime.progress`); the request carries no
    credential: the ServerApp derives its token from the key the SuperLink side holds.
    """

    key: FederationKey
    generation: int
    attempt: int
    document: Mapping[str, Any]
    checkpoint_base: str
    repo_root: str
    progress_url: str
    start_round: int = 1
    resume_from: Artifact | None = None
    traceparent: str = ""
    strategies: tuple[str, ...] = ()  # import paths the tenant policy lets this run import
    target: str = DEFAULT_TARGET


@dataclass(frozen=True)
class NodeInfo:
    """One SuperNode as the runtime sees it."""

    node_id: int
    online: bool
    status: str = ""


class Runtime(Protocol):
    """Submit, find, observe, stop and read runs; list nodes.

    Run ids are per target (SuperLink): every call about a run names the target it is on
    (`RunRequest.target`, `RunObservation.target`); `targets` are the names it drives.
    A target it does not drive raises `RunNotFound`."""

    @property
    def targets(self) -> tuple[str, ...]: ...

    def submit(self, req: RunRequest) -> int:
        """Start a run and return its id (adopting one already started for this attempt)."""
        ...

    def find_run(
        self,
        federation: FederationKey,
        generation: int,
        attempt: int,
        *,
        target: str = DEFAULT_TARGET,
    ) -> int | None:
        """The id of a run already started for exactly this attempt, if any."""
        ...

    def observe(self) -> list[RunObservation]:
        """The state of every run this reconciler submitted that the runtime still knows."""
        ...

    def stop(self, run_id: int, *, target: str = DEFAULT_TARGET) -> None:
        """Stop a run now; stopping a finished run is not an error."""
        ...

    def logs(self, run_id: int, *, after: float = 0, target: str = DEFAULT_TARGET) -> list[str]:
        """Log lines of a run written after the `after` timestamp (seconds since epoch)."""
        ...

    def nodes(self, *, target: str = DEFAULT_TARGET) -> list[NodeInfo]:
        """The SuperNodes registered with the target."""
        ...


def require_target(own: str, asked: str) -> None:
    """A runtime of one SuperLink (named `own`) refuses calls about another target's runs."""
    if asked != own:
        raise RunNotFound(f"target {asked!r} is not this SuperLink ({own!r})")
