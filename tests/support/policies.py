"""Tenant policies for tests whose subject is not the policy.

`OPEN_POLICY` lets every tenant read anywhere, bring its own app and name the import paths
the test corpora use, so schema and rule tests see only schema and rule problems. Tests of
the policy itself build their own (tests/policy).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.specs.policy import Policy, TenantRules

# The documented example: acme may bring its own apps (examples/apps).
EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"

CORPUS_STRATEGIES = ("acme_fl.strategies.robust:TrimmedFedAvg", "pkg.mod:Cls")

OPEN_POLICY = Policy(
    defaults=TenantRules(
        read=("s3://*/", "file:///"),
        own_apps=True,
        strategies=CORPUS_STRATEGIES,
    ),
    source="the open test policy",
)
