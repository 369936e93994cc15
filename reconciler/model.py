"""Shared value types: the vocabulary every layer speaks.

Everything here is a plain, immutable value. `specs` produces `FederationSpec` and
`SpecProblem`; `store` produces `RecordedFederation`; `runtime` produces `RunObservation`;
`plan` consumes all of them. No module here does I/O.
"""

from __future__ import annotations

import enum
import hashlib
import json
import weakref
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from reconciler.selector import Selector, selector_of

API_VERSION = "thunderline.okocorp/v1"
KIND = "FederationSpec"
# The name of the SuperLink given by `--superlink` (or the local one): the target of runs
# recorded before targets existed, and of specs without `spec.target` when it is configured.
DEFAULT_TARGET = "default"


class Phase(enum.StrEnum):
    """Lifecycle phase of a federation, as recorded in the store."""

    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def terminal(self) -> bool:
        return self in (Phase.COMPLETED, Phase.FAILED, Phase.STOPPED)

    @property
    def run_under_way(self) -> bool:
        """A Flower run of the federation is submitted and not known to have ended."""
        return self in (Phase.STARTING, Phase.RUNNING)

    @property
    def active(self) -> bool:
        """Has (or is about to have) a Flower run doing work."""
        return self in (Phase.PENDING, Phase.STARTING, Phase.RUNNING)


class FederationKey(NamedTuple):
    """A federation's identity: unique per (tenant, name) across the repository.

    A named tuple rather than a dataclass: hashing and ordering run in C, and the planner
    and store key dictionaries of 10,000 federations by it on every cycle.
    """

    tenant: str
    name: str

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One thing wrong with a spec file, located like a compiler error."""

    file: str  # path relative to the repository root, with forward slashes
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based; 0 when unknown
    field: str  # dotted path such as "spec.strategy.params.proxMu"; "" for the file itself
    message: str
    policy: bool = False  # the tenant policy forbids it (the spec itself may be well formed)

    def __str__(self) -> str:
        where = self.field or "(file)"
        return f"{self.file}:{self.line}:{self.column}: {where}: {self.message}"


def canonical_text(document: Mapping[str, Any]) -> str:
    """A document's canonical JSON: sorted keys, no spaces, so equal content, equal text."""
    plain = document.json_object() if isinstance(document, Document) else dict(document)
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_digest(document: Mapping[str, Any]) -> str:
    """sha256 of a document's canonical JSON: equal content, equal digest."""
    return text_digest(canonical_text(document))


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Document(Mapping[str, Any]):
    """A JSON document held as its compressed JSON text, parsed when read.

    A daemon keeps every spec twice (desired and recorded): 10,000 parsed documents cost
    ~70 MiB of small Python objects, packed ~6 MiB. Reading one costs a parse (~20 us);
    the documents read last are kept parsed, so a caller reading several fields in a row
    parses once. The parsed form is shared: read it, never change it.
    """

    __slots__ = ("__weakref__", "_packed")

    def __init__(self, json_text: str) -> None:
        self._packed = zlib.compress(json_text.encode("utf-8"), 1)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Document:
        return document if isinstance(document, Document) else cls(canonical_text(document))

    @classmethod
    def with_digest(cls, digest: str, json_text: str) -> Document:
        """The live document whose canonical digest is `digest`, else one of `json_text`:
        a spec's desired and recorded copies (and every reload of either) are one object."""
        found = _LIVE.get(digest)
        if found is None:
            found = _LIVE.setdefault(digest, cls(json_text))
        return found

    def json_text(self) -> str:
        return zlib.decompress(self._packed).decode("utf-8")

    def json_object(self) -> dict[str, Any]:
        return _parsed(self._packed)

    def __getitem__(self, key: str) -> Any:
        return _parsed(self._packed)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_parsed(self._packed))

    def __len__(self) -> int:
        return len(_parsed(self._packed))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Document) and other._packed == self._packed:
            return True
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"Document({self.json_text()})"


_LIVE: weakref.WeakValueDictionary[str, Document] = weakref.WeakValueDictionary()


@lru_cache(maxsize=64)
def _parsed(packed: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(zlib.decompress(packed))
    return parsed


def spec_target(document: Mapping[str, Any]) -> str | None:
    """`spec.target` of a spec document (a recorded one too); None when it names none."""
    body = document.get("spec")
    named = body.get("target") if isinstance(body, Mapping) else None
    return str(named) if named is not None else None


@dataclass(frozen=True)
class FederationSpec:
    """A validated FederationSpec: what the user asked for, and where they wrote it.

    `document` is the whole YAML document as loaded (apiVersion, kind, metadata, spec),
    without defaults filled in, so that it can be stored verbatim and diffed field by field.
    """

    key: FederationKey
    path: str
    document: Mapping[str, Any]
    digest: str = ""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", canonical_digest(self.document))

    @property
    def spec(self) -> Mapping[str, Any]:
        body = self.document.get("spec", {})
        return body if isinstance(body, Mapping) else {}

    # Cached: the planner asks these of every spec in every cycle (and `spec` would parse).
    @cached_property
    def paused(self) -> bool:
        return bool(self.spec.get("paused", False))

    @cached_property
    def stop_requested(self) -> bool:
        return bool(self.spec.get("stop", False))

    @cached_property
    def rounds_total(self) -> int:
        return int(self.spec.get("rounds", {}).get("total", 1))

    @cached_property
    def priority(self) -> int:
        return int(self.spec.get("priority", 0))

    @cached_property
    def target(self) -> str | None:
        """The SuperLink named by `spec.target`; None: the daemon's default one."""
        return spec_target(self.document)

    @cached_property
    def selector(self) -> Selector:
        """spec.clientSelector: which SuperNodes may take part."""
        return selector_of(self.spec, self.key.tenant)

    @cached_property
    def min_available(self) -> int:
        """SuperNodes a round needs (strategy.params.minAvailable; Flower's default 2)."""
        params = self.spec.get("strategy", {}).get("params", {})
        return int(params.get("minAvailable", 2))


@dataclass(frozen=True)
class DesiredState:
    """Everything the repository asks for at one revision.

    `problems` holds files that failed to load or validate. `claimed` maps each broken
    file to the key it would declare when that could be read (tenant from the folder,
    name from metadata.name), so that a typo never reads as "this federation was deleted".
    """

    specs: Mapping[FederationKey, FederationSpec] = field(default_factory=dict)
    problems: Mapping[str, tuple[SpecProblem, ...]] = field(default_factory=dict)
    claimed: Mapping[str, FederationKey] = field(default_factory=dict)
    revision: str | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class RecordedFederation:
    """A federation as the store last recorded it."""

    key: FederationKey
    path: str
    document: Mapping[str, Any]
    digest: str
    generation: int
    observed_generation: int
    phase: Phase
    reason: str = ""
    current_round: int = 0
    total_rounds: int = 0
    attempt: int = 0  # Flower runs submitted for this generation (resumes and recoveries count)
    run_generation: int = 0  # generation the current run was launched with (in-place updates
    # raise `generation` but keep the run); 0 before the first launch
    recoveries: int = 0  # runs of this generation that died and were resubmitted
    version: int = 1  # optimistic-concurrency counter, bumped on every write
    phase_since: datetime | None = None  # when the phase last changed: a Pending
    # federation's place in the start queue


@dataclass(frozen=True)
class TargetNames:
    """The SuperLinks (targets) a daemon drives, by name, and the one a spec without
    `spec.target` goes to (None: every spec must name one). `reconciler validate` knows none
    of them (`TargetNames.unknown()`): it checks only a name's shape."""

    names: frozenset[str] | None = frozenset({DEFAULT_TARGET})  # None: not known here
    default: str | None = DEFAULT_TARGET

    def resolve(self, named: str | None) -> str | None:
        """The target a spec runs on (None: it cannot run here, see `problem`)."""
        chosen = self.default if named is None else named
        if chosen is None or (self.names is not None and chosen not in self.names):
            return None
        return chosen

    def problem(self, named: str | None) -> str:
        """Why a spec naming `named` (None: naming none) has no target here; "" if it has."""
        if self.names is None or self.resolve(named) is not None:
            return ""
        known = ", ".join(sorted(self.names)) or "none"
        if named is None:
            return f"this daemon drives several SuperLinks ({known}): name one in spec.target"
        return f"unknown target {named!r}: this daemon drives {known}"


DEFAULT_TARGETS = TargetNames()  # one SuperLink, "default": a daemon without --flower-target
UNKNOWN_TARGETS = TargetNames(names=None, default=None)  # `reconciler validate`: none known


@dataclass(frozen=True, slots=True)
class RunObservation:
    """What the Flower SuperLink says about one run the reconciler submitted."""

    key: FederationKey
    run_id: int
    generation: int
    attempt: int
    status: str  # pending | starting | running | finished
    sub_status: str = ""  # completed | stopped | failed, once finished
    details: str = ""
    target: str = DEFAULT_TARGET  # the SuperLink the run is on: run ids are per SuperLink

    @property
    def finished(self) -> bool:
        return self.status == "finished"


class ConditionType(enum.StrEnum):
    """The fixed condition vocabulary on every federation's status (Kubernetes style)."""

    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    SPEC_INVALID = "SpecInvalid"
    APPLY_FAILED = "ApplyFailed"
    RUNTIME_UNAVAILABLE = "RuntimeUnavailable"
    ARTIFACT_MISSING = "ArtifactMissing"
    ORPHANED = "Orphaned"
    POLICY_DENIED = "PolicyDenied"  # the spec breaks its tenant's policy: never started
    PRUNE_BLOCKED = "PruneBlocked"  # a mass deletion waits for a person to confirm it
    QUEUED = "Queued"  # a start waits for a free slot (a concurrency limit), with its place
    SUPERNODES_SHORT = "SuperNodesShort"  # fewer SuperNodes online than minAvailable needs


@dataclass(frozen=True, slots=True)
class Condition:
    """One observation about a federation: `status` is "True", "False" or "Unknown"."""

    type: ConditionType
    status: str
    reason: str  # CamelCase, machine-readable
    message: str  # a sentence for people; never contains a secret
    last_transition_time: str  # RFC 3339, UTC
