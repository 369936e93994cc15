"""Which SuperNodes a federation may use: its `clientSelector` against each node's labels.

A SuperNode's labels are two keys of its Flower node config (`--node-config`): `tags`
(comma-separated, e.g. `tags="gpu,eu"`) and `tenant` (the tenant the node is dedicated to).
A federation uses the nodes of its tenant (`clientSelector.tenant`, which may only be the
spec's own, the default) and unlabelled, shared nodes: never a node dedicated to another
tenant. With `tags`, only nodes carrying every one of them. Labels are visible only from
inside a run (a ClientApp reads its node config), so the ServerApp asks the nodes, samples
only matching ones, and reports what it saw; the daemon's admission counts a node whose
labels it has not heard of yet as eligible.

Pure, no Flower import: used by the planner's admission, the ServerApp, and the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LABEL_KEYS = ("tags", "tenant")  # the node-config keys that are labels; nothing else leaves
MAX_LABEL_CHARS = 256
Labels = Mapping[str, str]


def node_labels(node_config: Mapping[str, object]) -> dict[str, str]:
    """The label keys of a node config, as bounded strings (the rest stays on the node)."""
    return {
        key: str(node_config[key])[:MAX_LABEL_CHARS] for key in LABEL_KEYS if key in node_config
    }


def node_tags(labels: Labels) -> frozenset[str]:
    return frozenset(t.strip() for t in str(labels.get("tags", "")).split(",") if t.strip())


@dataclass(frozen=True)
class Selector:
    """Which nodes a federation may use: `tenant` None (a run outside the reconciler) and
    no `tags` takes every node."""

    tags: frozenset[str] = frozenset()
    tenant: str | None = None

    @property
    def restricts(self) -> bool:
        """Whether some nodes may be left out (else no node's labels are needed)."""
        return bool(self.tags) or self.tenant is not None

    def matches(self, labels: Labels) -> bool:
        dedicated = labels.get("tenant", "")
        if self.tenant is not None and dedicated and dedicated != self.tenant:
            return False
        return self.tags <= node_tags(labels)

    def describe(self) -> str:
        """`clientSelector tags [eu, gpu], tenant acme`, for conditions and errors."""
        parts = [f"tags [{', '.join(sorted(self.tags))}]"] if self.tags else []
        parts += [f"tenant {self.tenant}"] if self.tenant is not None else []
        return f"clientSelector {', '.join(parts)}" if parts else "no clientSelector"


def selector_of(spec: Mapping[str, Any], tenant: str | None) -> Selector:
    """The selector of a spec body (`document["spec"]`) of `tenant`'s federation."""
    body = spec.get("clientSelector")
    body = body if isinstance(body, Mapping) else {}
    chosen = body.get("tenant") or tenant
    return Selector(
        tags=frozenset(str(t) for t in body.get("tags", ()) or ()),
        tenant=str(chosen) if chosen else None,
    )


@dataclass(frozen=True)
class NodeLabels:
    """The SuperNodes online now, and the labels each tenant's runs reported for nodes
    (per tenant: what one tenant's run says counts for that tenant's admission only)."""

    online: tuple[int, ...]
    by_tenant: Mapping[str, Mapping[int, Labels]]

    def eligible(self, selector: Selector, tenant: str) -> int:
        """How many online nodes `selector` may use; a node whose labels the tenant's runs
        have not reported yet counts (a run learns them when it asks)."""
        known = self.by_tenant.get(tenant)
        if not (selector.restricts and known):
            return len(self.online)
        return sum(1 for n in self.online if n not in known or selector.matches(known[n]))
