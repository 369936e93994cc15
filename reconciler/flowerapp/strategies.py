"""Build the Flower strategy a Plan asks for; wrap it in DP clipping when enabled.

Called by the ServerApp once per run. `fedavg` and `fedprox` are Flower's FedAvg and
FedProx; `custom` is any class in `flwr.serverapp.strategy` by name or an importable
`pkg.module:Class`. `clientFraction` maps to `fraction_train`/`fraction_evaluate`,
`minAvailable` to `min_available_nodes`; `options` are passed as extra keyword arguments.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Collection
from typing import Any

from flwr.serverapp import strategy as flwr_strategies
from flwr.serverapp.strategy import (
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    FedProx,
    Strategy,
)

from reconciler.flowerapp.settings import AppConfigError, Plan


def base_kwargs(plan: Plan) -> dict[str, Any]:
    """Flower's sampling parameters from the spec's clientFraction and minAvailable."""
    per_round = max(1, math.ceil(plan.client_fraction * plan.min_available))
    return {
        "fraction_train": plan.client_fraction,
        "fraction_evaluate": plan.client_fraction,
        "min_train_nodes": per_round,
        "min_evaluate_nodes": per_round,
        "min_available_nodes": plan.min_available,
    }


def load_strategy_class(name: str, allowed: Collection[str] = ()) -> type[Strategy]:
    """A strategy class by Flower name (`FedAdam`) or import path (`pkg.mod:Class`). An
    import path is imported only when `allowed` (the tenant policy's list) names it: the
    check comes before the import, since importing a module runs its code."""
    if ":" in name:
        if name not in allowed:
            raise AppConfigError(
                f"strategy class {name!r} is not allowed for this run by the tenant policy; "
                "it was not imported"
            )
        module_name, _, attr = name.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise AppConfigError(f"cannot import strategy class {name!r}: {exc}") from exc
    else:
        found = getattr(flwr_strategies, name, None) if name in flwr_strategies.__all__ else None
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        known = ", ".join(sorted(flwr_strategies.__all__))
        raise AppConfigError(f"strategy class {name!r} is not a Flower strategy ({known})")
    return found


def build_strategy(plan: Plan, *, sampled_clients: int, allowed: Collection[str] = ()) -> Strategy:
    """The run's strategy; `sampled_clients` is how many nodes train per round (for DP),
    `allowed` the import paths the tenant policy lets this run import."""
    kwargs = {**base_kwargs(plan), **plan.options}
    try:
        strategy = _core_strategy(plan, kwargs, allowed)
    except TypeError as exc:
        raise AppConfigError(f"strategy options rejected: {exc}") from exc
    if plan.dp is None:
        return strategy
    return DifferentialPrivacyServerSideFixedClipping(
        strategy,
        noise_multiplier=plan.dp.noise_multiplier,
        clipping_norm=plan.dp.clipping_norm,
        num_sampled_clients=sampled_clients,
    )


def _core_strategy(plan: Plan, kwargs: dict[str, Any], allowed: Collection[str]) -> Strategy:
    if plan.strategy == "fedavg":
        return FedAvg(**kwargs)
    if plan.strategy == "fedprox":
        return FedProx(proximal_mu=plan.prox_mu, **kwargs)
    return load_strategy_class(plan.strategy_class, allowed)(**kwargs)
