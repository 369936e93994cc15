"""Thunderline Reconciler: a declarative GitOps control plane for federated learning.

The data flows one way: source -> specs -> plan -> apply -> runtime, with store,
artifacts, telemetry and report around them. See docs/architecture.md.
"""

__version__ = "0.1.0"
