"""Semantic rules a JSON Schema cannot say, over one loaded spec document.

`rule_findings(document, folder_tenant=...)` returns `(field path, message)` pairs; the caller
(`filecheck`) adds line numbers. Every rule tolerates a document of the wrong shape (the schema
reports that), so one run reports all problems. Pure: no I/O. Rules across files (uniqueness
of (tenant, name)) live in `repo`.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.specs.nodes import Path

RuleFinding = tuple[Path, str]

# Classes of flwr.serverapp.strategy a custom strategy may name (flwr 1.42). The
# DifferentialPrivacy* wrappers are left out on purpose: privacy.dp configures them.
FLOWER_STRATEGIES = frozenset(
    {
        "Bulyan",
        "FedAdagrad",
        "FedAdam",
        "FedAvg",
        "FedAvgM",
        "FedMedian",
        "FedProx",
        "FedTrimmedAvg",
        "FedXgbBagging",
        "FedXgbCyclic",
        "FedYogi",
        "Krum",
        "MultiKrum",
        "QFedAvg",
    }
)
_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_FOLDERS = ("specs", "status")  # the daemon's own inputs and outputs


def rule_findings(document: Any, *, folder_tenant: str | None) -> list[RuleFinding]:
    """All semantic problems of `document`; `folder_tenant` None skips the folder check."""
    if not isinstance(document, dict):
        return []
    out: list[RuleFinding] = []
    for rule in _RULES:
        out.extend(rule(document, folder_tenant))
    return out


# Fields only the built-in app reads: a team's own app (spec.app) never receives them.
BUILT_IN_ONLY: tuple[Path, ...] = (
    ("spec", "modelRef"),
    ("spec", "datasetSpec"),
    ("spec", "seed"),
    ("spec", "privacy", "dp"),
    ("spec", "telemetry"),
    *(
        ("spec", "strategy", "params", name)
        for name in (
            "clientFraction",
            "localEpochs",
            "localBatchSize",
            "learningRate",
            "proxMu",
            "class",
            "options",
        )
    ),
)
SECURE_AGGREGATION = ("spec", "privacy", "secureAggregation")


def reserved_findings(document: Any) -> list[RuleFinding]:
    """Fields that are set but do nothing here: `validate` warns, the spec stays valid.
    `privacy.secureAggregation` is reserved (not implemented; `enabled: true` is an error);
    with `spec.app`, the fields only the built-in app reads."""
    if not isinstance(document, dict):
        return []
    out: list[RuleFinding] = []
    if _get(document, SECURE_AGGREGATION) is not None:
        out.append((SECURE_AGGREGATION, "reserved: secure aggregation is not implemented yet"))
    if isinstance(_get(document, ("spec", "app")), dict):
        out += [
            (path, "has no effect with spec.app: only the built-in app reads it")
            for path in BUILT_IN_ONLY
            if _get(document, path) is not None
        ]
    return out


def _get(document: Any, path: Path) -> Any:
    """The value at `path`, or None when any step is missing or of the wrong type."""
    value = document
    for part in path:
        if isinstance(part, str) and isinstance(value, dict):  # dict, not Mapping: hot path
            value = value.get(part)
        elif isinstance(part, int) and isinstance(value, list) and 0 <= part < len(value):
            value = value[part]
        else:
            return None
    return value


def _tenant(document: Mapping[str, Any], folder: str | None) -> Iterator[RuleFinding]:
    tenant = _get(document, ("metadata", "tenant"))
    if folder is not None and isinstance(tenant, str) and tenant != folder:
        message = (
            f"tenant '{tenant}' does not match the folder specs/{folder}/; "
            "a spec may only claim the tenant of its folder"
        )
        yield ("metadata", "tenant"), message
    selected = _get(document, ("spec", "clientSelector", "tenant"))
    own = folder if folder is not None else tenant
    if isinstance(selected, str) and isinstance(own, str) and selected != own:
        yield (
            ("spec", "clientSelector", "tenant"),
            (
                f"selects clients of tenant '{selected}'; a spec may only use its own tenant's clients"
            ),
        )


def _privacy(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    dp = ("spec", "privacy", "dp")
    if _get(document, (*dp, "enabled")) is True:
        for name in ("epsilon", "delta"):
            if _get(document, (*dp, name)) is None:
                yield (*dp, name), "required when dp.enabled is true"
    secagg = ("spec", "privacy", "secureAggregation", "enabled")
    if _get(document, secagg) is True:
        yield secagg, "secure aggregation is not supported yet; set enabled: false"
    query = ("spec", "clientSelector", "embeddingQuery")
    if _get(document, query) is not None:
        yield query, "reserved for a future version and not supported yet; remove it"


def _strategy(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    name = _get(document, ("spec", "strategy", "name"))
    params = ("spec", "strategy", "params")
    present = _get(document, params)
    present = present if isinstance(present, dict) else {}
    if name == "fedprox" and present.get("proxMu") is None:
        yield (*params, "proxMu"), "required when strategy.name is fedprox"
    if name in ("fedavg", "custom") and "proxMu" in present:
        yield (*params, "proxMu"), f"only for strategy fedprox, not {name}"
    if name == "custom" and present.get("class") is None:
        yield (*params, "class"), "required when strategy.name is custom"
    for only_custom in ("class", "options"):
        if name in ("fedavg", "fedprox") and only_custom in present:
            yield (*params, only_custom), f"only for strategy custom, not {name}"
    strategy_class = present.get("class")
    if name == "custom" and isinstance(strategy_class, str):
        problem = _class_problem(strategy_class)
        if problem:
            yield (*params, "class"), problem


def _lease(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    """The lease is what one participant is granted for one round's task: its local epochs
    may not exceed `maxEpochs` (the ClientApp trains `localEpochs` per task, default 1)."""
    limit = _get(document, ("spec", "constraints", "lease", "maxEpochs"))
    epochs = _get(document, ("spec", "strategy", "params", "localEpochs"))
    if isinstance(limit, int) and isinstance(epochs, int) and epochs > limit:
        yield (
            ("spec", "strategy", "params", "localEpochs"),
            f"{epochs} local epochs per task exceed the lease's maxEpochs {limit} "
            "(spec.constraints.lease.maxEpochs)",
        )


def _class_problem(value: str) -> str | None:
    if value in FLOWER_STRATEGIES or _IMPORT_PATH.match(value):
        return None
    if value.startswith("DifferentialPrivacy"):
        return "differential privacy wraps the strategy: configure it under spec.privacy.dp"
    if "." in value and ":" not in value:
        return f"write an import path as package.module:Class, not '{value}'"
    close = difflib.get_close_matches(value, sorted(FLOWER_STRATEGIES), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"unknown Flower strategy '{value}'; {hint}use a class of flwr.serverapp.strategy "
        "or an import path package.module:Class"
    )


def _locations(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    objects: list[Path] = [
        ("spec", "modelRef", "uri"),
        ("spec", "datasetSpec", "evaluation", "uri"),
    ]
    shards = _get(document, ("spec", "datasetSpec", "shards"))
    if isinstance(shards, list):
        objects += [("spec", "datasetSpec", "shards", i, "uri") for i in range(len(shards))]
    for path in objects:
        yield from _check(document, path, lambda v: uri_problem(v, is_object=True))
    bucket = ("spec", "artifacts", "outputBucket")
    yield from _check(document, bucket, lambda v: uri_problem(v, is_object=False, writes=True))
    yield from _check(document, ("spec", "artifacts", "prefix"), prefix_problem)


def _check(
    document: Mapping[str, Any], path: Path, problem_of: Callable[[str], str | None]
) -> Iterator[RuleFinding]:
    value = _get(document, path)
    problem = problem_of(value) if isinstance(value, str) and value else None
    if problem:
        yield path, problem


def uri_problem(value: str, *, is_object: bool, writes: bool = False) -> str | None:
    """What is wrong with a data location, or None. `is_object`: it names a file, not a
    folder; `writes`: the daemon writes there, so it must stay out of specs/ and status/."""
    scheme = _SCHEME.match(value)
    if scheme is None:
        return _relative_problem(value, is_object=is_object, writes=writes)
    if not value.startswith(f"{scheme.group(1)}://"):
        return f"unsupported location '{value}'; use s3://, file:/// or a relative path"
    name, rest = scheme.group(1).lower(), value.split("://", 1)[1]
    if name in ("s3", "file"):
        ambiguous = ambiguous_path(rest)
        if ambiguous:
            return ambiguous
    if name == "s3":
        return _s3_problem(rest, is_object=is_object)
    if name == "file":
        return (
            None
            if rest.startswith("/")
            else (
                "a file:// URI must be absolute (file:///path); "
                "for a path inside the repository, drop the file:// prefix"
            )
        )
    return f"unsupported URI scheme '{name}://'; use s3://, file:/// or a relative path"


def ambiguous_path(rest: str) -> str | None:
    """Why a location (what follows `scheme://`) could mean another place than it reads
    as, or None: `.`/`..` segments, percent-encoding (`%2e%2e`), backslashes."""
    if "%" in rest or "\\" in rest:
        return "no percent-encoding or backslashes in s3:// and file:// locations"
    if any(part in (".", "..") for part in rest.split("/")):
        return "no '.' or '..' segments: a location must not lead outside where it reads"
    return None


def _s3_problem(rest: str, *, is_object: bool) -> str | None:
    bucket, _, key = rest.partition("/")
    if not _BUCKET.match(bucket):
        return f"'{bucket}' is not a valid S3 bucket name"
    if is_object and not key:
        return "an S3 object URI needs a key: s3://bucket/path/to/file"
    return None


def _relative_problem(value: str, *, is_object: bool, writes: bool) -> str | None:
    if value.startswith("/"):
        return "absolute paths are written as file:///path; relative paths start at the repo root"
    if "\\" in value:
        return "use forward slashes in paths"
    normal = posixpath.normpath(value)
    if normal == ".." or normal.startswith("../"):
        return f"'{value}' leads outside the repository"
    if is_object and normal == ".":
        return "names the repository root, not a file"
    if writes and normal.split("/")[0] in _RESERVED_FOLDERS:
        return "artifacts must not be written into specs/ or status/"
    return None


def prefix_problem(value: str) -> str | None:
    """Why `value` cannot be a checkpoint prefix, or None. The prefix is placed under
    `<bucket>/<tenant>/`, so it must name exactly one folder there: plain segments only."""
    if value.startswith("/"):
        return "must be a relative path: checkpoints go under <bucket>/<tenant>/<prefix>/"
    for segment in value.removesuffix("/").split("/"):
        if segment in ("", ".", ".."):
            return "no empty, '.' or '..' segments: a prefix must not lead outside its folder"
        if not _PREFIX_SEGMENT.match(segment):
            return (
                f"segment '{segment}' may hold only letters, digits, '.', '_' and '-' "
                "(no percent-encoding, backslashes or spaces)"
            )
    return None


def _app(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    app = _get(document, ("spec", "app"))
    if not isinstance(app, dict):
        return
    where = ("spec", "app")
    has_path, has_uri = app.get("path") is not None, app.get("uri") is not None
    if has_path == has_uri:
        yield where, "set exactly one of app.path (a folder in this repository) or app.uri"
    if has_uri and app.get("sha256") is None:
        yield (*where, "sha256"), "required with app.uri"
    if has_path and not has_uri and "sha256" in app:
        yield (
            (*where, "sha256"),
            "only for app.uri; an app folder in the repository is versioned by Git",
        )
    yield from _check(document, (*where, "path"), _app_path_problem)
    yield from _check(document, (*where, "uri"), _app_uri_problem)


def _app_path_problem(value: str) -> str | None:
    if _SCHEME.match(value):
        return "app.path is a folder in this repository; use app.uri for s3:// or file:// apps"
    return _relative_problem(value, is_object=False, writes=False)


def _app_uri_problem(value: str) -> str | None:
    if _SCHEME.match(value) is None:
        return "app.uri is s3:// or file:///; use app.path for a folder in this repository"
    return uri_problem(value, is_object=True)


def _builtin_app(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    """The built-in app trains the spec's model on the spec's shards; a team's app brings
    its own, so only the built-in app requires them."""
    spec = _get(document, ("spec",))
    if not isinstance(spec, dict) or spec.get("app") is not None:
        return
    for name in ("modelRef", "datasetSpec"):
        if name not in spec:
            yield ("spec", name), "required field is missing"


def _shards(document: Mapping[str, Any], _folder: str | None) -> Iterator[RuleFinding]:
    shards = _get(document, ("spec", "datasetSpec", "shards"))
    if not isinstance(shards, list):
        return
    seen: dict[tuple[str, Any], int] = {}
    for i, shard in enumerate(shards):
        for name in ("uri", "partition"):
            value = shard.get(name) if isinstance(shard, dict) else None
            if value is None or isinstance(value, dict | list):
                continue
            if (name, value) in seen:
                where = ("spec", "datasetSpec", "shards", i, name)
                yield where, f"same {name} as shards[{seen[(name, value)]}]"
            else:
                seen[(name, value)] = i


_RULES: tuple[Callable[[Mapping[str, Any], str | None], Iterator[RuleFinding]], ...] = (
    _tenant,
    _strategy,
    _lease,
    _privacy,
    _app,
    _builtin_app,
    _locations,
    _shards,
)
