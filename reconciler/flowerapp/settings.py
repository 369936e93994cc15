"""The Flower app's configuration: a FederationSpec and a control block, as run config.

The app's pyproject declares exactly two run-config keys, both JSON strings:
`federation` (the spec document) and `control` (who this run is and where it reports).
The runtime driver builds them with `run_config(...)`; the ServerApp and ClientApp parse
them with `parse_plan(...)` and `parse_control(...)`. Pure code, no Flower import, so the
driver can validate a spec before it ever talks to a SuperLink.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from reconciler.flowerapp.lease import DEFAULT_TTL_SECONDS, Lease, lease_of
from reconciler.selector import Selector, selector_of

FEDERATION_KEY = "federation"
CONTROL_KEY = "control"

STRATEGIES = ("fedavg", "fedprox", "custom")
MODEL_FORMATS = ("npz", "torch")
SCHEMAS = ("parquet", "npz", "csv")
DEFAULT_CLIPPING_NORM = 1.0
OptionValue = str | int | float | bool


class AppConfigError(ValueError):
    """The spec asks for something this app cannot do; the message lists every problem."""


@dataclass(frozen=True)
class Pointer:
    uri: str
    sha256: str | None


@dataclass(frozen=True)
class Shard:
    uri: str
    sha256: str | None
    partition: int | None
    tags: tuple[str, ...]


@dataclass(frozen=True)
class DPSettings:
    """Central DP with fixed clipping; `noise_multiplier` is derived from (epsilon, delta)."""

    epsilon: float
    delta: float
    clipping_norm: float
    noise_multiplier: float


@dataclass(frozen=True)
class Plan:
    """A federation's training plan, with every default filled in."""

    strategy: str
    strategy_class: str
    options: Mapping[str, OptionValue]
    client_fraction: float
    min_available: int
    local_epochs: int
    batch_size: int
    learning_rate: float
    prox_mu: float
    rounds_total: int
    timeout_seconds: float
    model: Pointer
    model_format: str
    shards: tuple[Shard, ...]
    schema: str
    evaluation: Pointer | None
    selector: Selector
    lease: Lease
    dp: DPSettings | None
    seed: int


@dataclass(frozen=True)
class Control:
    """Who a run is (federation, generation, attempt) and where it starts and reports."""

    federation: str
    generation: int
    attempt: int
    start_round: int
    checkpoint_base: str
    repo_root: str
    progress_url: str  # no credential: the ServerApp derives its token (runtime.progress)
    resume_from: Pointer | None = None
    traceparent: str = ""
    # Import paths (pkg.mod:Class) a custom strategy of this run may name: the tenant
    # policy's list. Anything else is refused before it is imported.
    strategies: tuple[str, ...] = ()
    # The spec's lease and clientSelector, for a team's own app (the SDK enforces them; the
    # built-in app reads them from the spec itself).
    ttl_seconds: float = DEFAULT_TTL_SECONDS
    max_tokens: int | None = None
    selector_tags: tuple[str, ...] = ()
    selector_tenant: str | None = None

    @property
    def lease(self) -> Lease:
        return Lease(self.ttl_seconds, self.max_tokens)

    @property
    def selector(self) -> Selector:
        return Selector(frozenset(self.selector_tags), self.selector_tenant)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def spec_terms(spec: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    """The Control fields that carry a spec body's lease and clientSelector."""
    lease, selector = lease_of(spec), selector_of(spec, tenant)
    return {
        "ttl_seconds": lease.ttl_seconds,
        "max_tokens": lease.max_tokens,
        "selector_tags": tuple(sorted(selector.tags)),
        "selector_tenant": selector.tenant,
    }


def run_config(document: Mapping[str, Any], control: Control) -> dict[str, str]:
    """The run-config override carrying a whole run: two JSON strings."""
    return {
        FEDERATION_KEY: json.dumps(document, sort_keys=True, separators=(",", ":")),
        CONTROL_KEY: control.to_json(),
    }


def parse_control(raw: str) -> Control:
    body = json.loads(raw)
    body.pop("token", None)  # runs submitted before tokens left the run config
    resume = body.pop("resume_from", None)
    pointer = Pointer(resume["uri"], resume.get("sha256")) if resume else None
    strategies = tuple(str(s) for s in body.pop("strategies", ()))
    tags = tuple(str(t) for t in body.pop("selector_tags", ()))
    return Control(resume_from=pointer, strategies=strategies, selector_tags=tags, **body)


def control_identity(raw: str) -> tuple[str, int, int] | None:
    """(federation, generation, attempt) from a control JSON string, or None if foreign."""
    try:
        body = json.loads(raw)
        return str(body["federation"]), int(body["generation"]), int(body["attempt"])
    except (ValueError, TypeError, KeyError):
        return None


def dp_noise_multiplier(epsilon: float, delta: float, rounds: int) -> float:
    """Noise multiplier giving (epsilon, delta)-DP over `rounds` releases.

    Classical Gaussian mechanism per release with the budget split evenly across rounds
    (basic composition): conservative, and needs no accounting library.
    """
    eps_round, delta_round = epsilon / rounds, delta / rounds
    return math.sqrt(2.0 * math.log(1.25 / delta_round)) / eps_round


def parse_plan(document: Mapping[str, Any]) -> Plan:
    """Read a FederationSpec document into a Plan; raise AppConfigError listing problems."""
    problems = plan_problems(document)
    if problems:
        raise AppConfigError("; ".join(problems))
    return _build_plan(_section(document, "spec"), _tenant(document))


def plan_problems(document: Mapping[str, Any]) -> list[str]:
    """Everything in the spec this app cannot run, as sentences (empty when runnable)."""
    spec = _section(document, "spec")
    problems: list[str] = []
    strategy = _section(spec, "strategy")
    name = strategy.get("name", "fedavg")
    if name not in STRATEGIES:
        problems.append(f"spec.strategy.name {name!r} is not one of {', '.join(STRATEGIES)}")
    if name == "custom" and not _section(strategy, "params").get("class"):
        problems.append("spec.strategy.params.class is required for the custom strategy")
    model = _section(spec, "modelRef")
    if not model.get("uri"):
        problems.append("spec.modelRef.uri is required")
    if model.get("format", "npz") not in MODEL_FORMATS:
        problems.append(f"spec.modelRef.format must be one of {', '.join(MODEL_FORMATS)}")
    data = _section(spec, "datasetSpec")
    if not data.get("shards"):
        problems.append("spec.datasetSpec.shards needs at least one shard")
    if data.get("schema", "npz") not in SCHEMAS:
        problems.append(f"spec.datasetSpec.schema must be one of {', '.join(SCHEMAS)}")
    privacy = _section(spec, "privacy")
    if _section(privacy, "secureAggregation").get("enabled"):
        problems.append("spec.privacy.secureAggregation is not supported by this runtime yet")
    dp = _section(privacy, "dp")
    if dp.get("enabled") and not (dp.get("epsilon", 0) > 0 and 0 < dp.get("delta", 0) < 1):
        problems.append("spec.privacy.dp needs epsilon > 0 and 0 < delta < 1 when enabled")
    if problems:
        return problems
    try:
        plan = _build_plan(spec, _tenant(document))
    except (TypeError, ValueError, KeyError) as exc:
        return [f"spec has a field of the wrong type or shape: {type(exc).__name__}: {exc}"]
    if plan.rounds_total < 1:
        problems.append("spec.rounds.total must be at least 1")
    return problems


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _pointer(body: Mapping[str, Any]) -> Pointer:
    return Pointer(str(body["uri"]), body.get("sha256") or None)


def _tenant(document: Mapping[str, Any]) -> str | None:
    tenant = _section(document, "metadata").get("tenant")
    return str(tenant) if tenant else None


def _build_plan(spec: Mapping[str, Any], tenant: str | None) -> Plan:
    strategy = _section(spec, "strategy")
    params = _section(strategy, "params")
    rounds = _section(spec, "rounds")
    data = _section(spec, "datasetSpec")
    total = int(rounds.get("total", 1))
    evaluation = _section(data, "evaluation")
    return Plan(
        strategy=str(strategy.get("name", "fedavg")),
        strategy_class=str(params.get("class", "")),
        options=dict(_section(params, "options")),
        client_fraction=float(params.get("clientFraction", 1.0)),
        min_available=int(params.get("minAvailable", 2)),
        local_epochs=int(params.get("localEpochs", 1)),
        batch_size=int(params.get("localBatchSize", 32)),
        learning_rate=float(params.get("learningRate", 0.1)),
        prox_mu=float(params.get("proxMu", 0.01)),
        rounds_total=total,
        timeout_seconds=float(rounds.get("timeoutSeconds", 300)),
        model=_pointer(_section(spec, "modelRef")),
        model_format=str(_section(spec, "modelRef").get("format", "npz")),
        shards=tuple(_shard(s) for s in data.get("shards", ())),
        schema=str(data.get("schema", "npz")),
        evaluation=_pointer(evaluation) if evaluation.get("uri") else None,
        selector=selector_of(spec, tenant),
        lease=lease_of(spec),
        dp=_dp(_section(_section(spec, "privacy"), "dp"), total),
        seed=int(spec.get("seed", 0)),
    )


def _shard(body: Mapping[str, Any]) -> Shard:
    partition = body.get("partition")
    return Shard(
        uri=str(body["uri"]),
        sha256=body.get("sha256") or None,
        partition=int(partition) if partition is not None else None,
        tags=tuple(str(t) for t in body.get("tags", ())),
    )


def _dp(body: Mapping[str, Any], rounds: int) -> DPSettings | None:
    if not body.get("enabled"):
        return None
    epsilon, delta = float(body["epsilon"]), float(body["delta"])
    return DPSettings(
        epsilon=epsilon,
        delta=delta,
        clipping_norm=float(body.get("clippingNorm", DEFAULT_CLIPPING_NORM)),
        noise_multiplier=dp_noise_multiplier(epsilon, delta, rounds),
    )
