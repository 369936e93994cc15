"""Tenant policies: what each tenant's federations may read, write, import and run. Pure.

The job Argo CD's AppProject does. The operator's policy file (`policyfile.load_policy`)
becomes a `Policy`; `policy_findings(document, tenant, policy)` checks one spec against its
tenant's `TenantRules` and returns `(field path, message)` pairs that `filecheck` locates like
any other problem, marked as policy problems so the daemon shows `PolicyDenied`.

Without a file `DEFAULT_POLICY` holds, and it is the safe one: inputs from the repository
and from the tenant's own folder `<bucket>/<tenant>/` only, checkpoints into any bucket but
always under `<bucket>/<tenant>/`, Flower's built-in strategies only, no own Flower app.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.specs.nodes import Path
from reconciler.specs.rules import FLOWER_STRATEGIES, ambiguous_path

ANY_BUCKET = "*"
TENANT_PLACEHOLDER = "{tenant}"
PolicyFinding = tuple[Path, str]


@dataclass(frozen=True, slots=True)
class TenantRules:
    """One tenant's rules; every field has the safe default."""

    read: tuple[str, ...] = ()  # locations (s3://bucket/prefix/, file:///folder/) beyond its own
    write: tuple[str, ...] = (ANY_BUCKET,)  # buckets its checkpoints may go into
    strategies: tuple[str, ...] = ()  # import paths pkg.mod:Class beyond Flower's built-ins
    own_apps: bool = False  # may bring its own Flower app (spec.app)
    max_rounds: int | None = None
    max_concurrent: int | None = None  # federations starting, running or paused at once


@dataclass(frozen=True)
class Policy:
    """Rules per tenant; `defaults` for every tenant without an entry of its own."""

    defaults: TenantRules = TenantRules()
    tenants: Mapping[str, TenantRules] = field(default_factory=dict)
    source: str = "the default policy"  # where it came from, for messages

    def rules_for(self, tenant: str) -> TenantRules:
        return self.tenants.get(tenant, self.defaults)

    @property
    def limits_concurrency(self) -> bool:
        """Whether any tenant has a maxConcurrent (else the planner skips counting)."""
        rules = (self.defaults, *self.tenants.values())
        return any(r.max_concurrent is not None for r in rules)


DEFAULT_POLICY = Policy()


def policy_findings(document: Any, tenant: str | None, policy: Policy) -> list[PolicyFinding]:
    """Everything in `document` that `tenant`'s rules do not allow (empty: allowed).

    Tolerates documents of the wrong shape (the schema reports that); `tenant` None (a file
    outside any tenant folder) has nothing to check against."""
    spec = document.get("spec") if isinstance(document, dict) else None
    if tenant is None or not isinstance(spec, dict):
        return []
    rules = policy.rules_for(tenant)
    checks = (_strategy, _app, _rounds, _output, _inputs)
    return [finding for check in checks for finding in check(spec, tenant, rules, policy)]


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _strategy(
    spec: Mapping[str, Any], tenant: str, rules: TenantRules, policy: Policy
) -> Iterator[PolicyFinding]:
    strategy = _section(spec, "strategy")
    name = _section(strategy, "params").get("class")
    if strategy.get("name") != "custom" or not isinstance(name, str):
        return
    if name in FLOWER_STRATEGIES or name in rules.strategies:
        return
    listed = ", ".join(rules.strategies)
    allowed = "Flower's built-in strategies" + (f" and {listed}" if listed else " only")
    yield (
        ("spec", "strategy", "params", "class"),
        f"strategy class '{name}' is not allowed for tenant '{tenant}' by {policy.source} "
        f"(allowed: {allowed}); it is never imported",
    )


def _app(
    spec: Mapping[str, Any], tenant: str, rules: TenantRules, policy: Policy
) -> Iterator[PolicyFinding]:
    if spec.get("app") is not None and not rules.own_apps:
        yield (
            ("spec", "app"),
            f"tenant '{tenant}' may not bring its own Flower app under {policy.source} "
            "(ownApps: false); use the built-in app or ask the operator",
        )


def _rounds(
    spec: Mapping[str, Any], tenant: str, rules: TenantRules, policy: Policy
) -> Iterator[PolicyFinding]:
    total = _section(spec, "rounds").get("total")
    limit = rules.max_rounds
    if limit is not None and isinstance(total, int) and total > limit:
        yield (
            ("spec", "rounds", "total"),
            f"{total} rounds exceeds the limit of {limit} for tenant '{tenant}' in {policy.source}",
        )


def _output(
    spec: Mapping[str, Any], tenant: str, rules: TenantRules, policy: Policy
) -> Iterator[PolicyFinding]:
    bucket = _section(spec, "artifacts").get("outputBucket")
    if isinstance(bucket, str) and bucket and not _writable(bucket_name(bucket), rules):
        yield (
            ("spec", "artifacts", "outputBucket"),
            f"tenant '{tenant}' may not write into '{bucket}' under {policy.source} "
            f"(allowed: {', '.join(rules.write) or 'none'})",
        )


def _inputs(
    spec: Mapping[str, Any], tenant: str, rules: TenantRules, policy: Policy
) -> Iterator[PolicyFinding]:
    for where, uri in input_locations(spec):
        if not readable(uri, tenant, rules):
            yield (
                where,
                f"tenant '{tenant}' may not read '{uri}' under {policy.source}: inputs come from "
                f"the repository, its own folder <bucket>/{tenant}/, or the policy's read list",
            )


def input_locations(spec: Mapping[str, Any]) -> Iterator[tuple[Path, str]]:
    """Every location a spec reads from: model, shards, evaluation set, prebuilt app."""
    single: tuple[tuple[str, ...], ...] = (
        ("modelRef", "uri"),
        ("datasetSpec", "evaluation", "uri"),
        ("app", "uri"),
    )
    for path in single:
        value: Any = spec
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            yield ("spec", *path), value
    shards = _section(spec, "datasetSpec").get("shards")
    for i, shard in enumerate(shards if isinstance(shards, list) else ()):
        uri = shard.get("uri") if isinstance(shard, dict) else None
        if isinstance(uri, str) and uri:
            yield ("spec", "datasetSpec", "shards", i, "uri"), uri


def bucket_name(value: str) -> str:
    """`s3://ckpt` and `ckpt` both name the bucket `ckpt`."""
    return value.split("://", 1)[-1].strip("/").split("/", 1)[0]


def _writable(bucket: str, rules: TenantRules) -> bool:
    allowed = {bucket_name(b) for b in rules.write}
    return ANY_BUCKET in allowed or bucket in allowed


def readable(uri: str, tenant: str, rules: TenantRules) -> bool:
    """May `tenant` read `uri`? Repository paths always (the repository is shared and
    reviewed); s3:// and file:// only inside its own folder or a listed read location."""
    if "://" not in uri:
        return True  # rules.py keeps a relative path inside the repository
    scheme = uri.split("://", 1)[0].lower()
    parts = _segments(uri)
    if not parts:
        return False
    if scheme == "s3" and len(parts) > 2 and parts[1] == tenant and _writable(parts[0], rules):
        return True
    return any(_under(scheme, parts, location, tenant) for location in rules.read)


def _under(scheme: str, parts: list[str], location: str, tenant: str) -> bool:
    if location.split("://", 1)[0].lower() != scheme:
        return False
    allowed = _segments(location.replace(TENANT_PLACEHOLDER, tenant))
    if allowed is None or len(parts) <= len(allowed):
        return False
    if scheme == "s3" and allowed[0] == ANY_BUCKET:
        return parts[1 : len(allowed)] == allowed[1:]
    return parts[: len(allowed)] == allowed


def _segments(uri: str) -> list[str] | None:
    """The path segments after the scheme (an s3 bucket first), or None for anything that
    could mean another place than it reads as: `.`/`..` segments, percent-encoding,
    backslashes. Trailing and doubled slashes are not segments; `file:///` has none."""
    rest = uri.split("://", 1)[1]
    if ambiguous_path(rest):
        return None
    return [p for p in rest.split("/") if p]
