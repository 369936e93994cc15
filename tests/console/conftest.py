"""Fixtures for the console tests: a migrated store (tests/store) and spec builders."""

from __future__ import annotations

from typing import Any

from reconciler.model import API_VERSION, KIND, FederationKey, FederationSpec
from tests.store.conftest import store

__all__ = ["labelled_spec", "store"]


def labelled_spec(
    name: str, tenant: str = "acme", labels: dict[str, str] | None = None, **spec: Any
) -> FederationSpec:
    """A spec with `metadata.labels`, as the console filters them."""
    metadata: dict[str, Any] = {"name": name, "tenant": tenant}
    if labels:
        metadata["labels"] = labels
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {"rounds": {"total": 4}, "strategy": {"name": "fedavg"}, **spec},
    }
    return FederationSpec(FederationKey(tenant, name), f"specs/{tenant}/{name}.yaml", document)
