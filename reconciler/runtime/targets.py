"""Several SuperLinks ("targets"): what the daemon's configuration names, and the `Runtime`
that sends every call to the SuperLink it is about.

`--flower-target name=ADDRESS[,ca=FILE|,insecure]` (repeated) or $THUNDERLINE_FLOWER_TARGETS
(the same items separated by ';' or white space) name SuperLinks; `--superlink` (with
`--flower-ca-file` / `--flower-insecure`), or the local SuperLink started without it, is the
target "default". `spec.target` picks one; a spec without it goes to the default target, or
to the only one configured. `reconciler.cli.run` parses, `reconciler.daemon.assemble` builds
one `FlowerRuntime` per target and hands the daemon a `TargetRuntimes` over them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.model import DEFAULT_TARGET, FederationKey, RunObservation, TargetNames
from reconciler.runtime.base import NodeInfo, RunNotFound, RunRequest, Runtime
from reconciler.runtime.tls import Transport, choose_transport
from reconciler.settings import RuntimeSettings, TargetSettings

TARGETS_ENV = "THUNDERLINE_FLOWER_TARGETS"
# A DNS-1123 label, as `spec.target` in schema/federation-spec.schema.json (a test checks).
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
FORM = "name=HOST:PORT[,ca=FILE|,insecure]"


class TargetInvalid(ValueError):
    """A target in the configuration cannot be read (the message quotes no file content)."""


def parse_target(text: str) -> TargetSettings:
    """`eu=superlink.eu:9093,ca=/etc/eu-ca.pem` -> TargetSettings; raises `TargetInvalid`."""
    name, sep, rest = text.strip().partition("=")
    address, *options = rest.split(",")
    if not sep or not address:
        raise TargetInvalid(f"Flower target {text!r}: write {FORM}")
    if not NAME.match(name):
        raise TargetInvalid(
            f"Flower target {text!r}: the name must be a DNS-1123 label (a-z, 0-9, '-')"
        )
    ca_file, insecure = None, False
    for option in options:
        if option == "insecure":
            insecure = True
        elif option.startswith("ca=") and option[3:]:
            ca_file = Path(option[3:])
        else:
            raise TargetInvalid(f"Flower target {name}: unknown option {option!r} ({FORM})")
    if insecure and ca_file is not None:
        raise TargetInvalid(f"Flower target {name}: ca= and insecure contradict each other")
    return TargetSettings(name, address, ca_file, insecure)


def transport_of(target: TargetSettings) -> Transport:
    """How to reach the target: as for `--superlink` (`choose_transport`)."""
    return choose_transport(target.address, ca_file=target.ca_file, insecure=target.insecure)


def parse_targets(items: Sequence[str]) -> tuple[TargetSettings, ...]:
    """Every item parsed; a name given twice raises `TargetInvalid`."""
    targets = tuple(parse_target(item) for item in items if item.strip())
    names = [t.name for t in targets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TargetInvalid(f"Flower target named more than once: {', '.join(twice)}")
    return targets


def targets_in_env(env: Mapping[str, str]) -> list[str]:
    """The items of $THUNDERLINE_FLOWER_TARGETS."""
    return re.split(r"[;\s]+", env.get(TARGETS_ENV, "").strip()) if env.get(TARGETS_ENV) else []


def has_default(runtime: RuntimeSettings) -> bool:
    """The daemon drives a target "default": `--superlink`, or the local SuperLink."""
    return runtime.superlink is not None or not runtime.targets


def target_names(runtime: RuntimeSettings) -> TargetNames:
    """The names the daemon drives and where a spec without `spec.target` goes."""
    named = [t.name for t in runtime.targets]
    if not has_default(runtime):
        return TargetNames(frozenset(named), named[0] if len(named) == 1 else None)
    if DEFAULT_TARGET in named:
        raise TargetInvalid(
            f"Flower target {DEFAULT_TARGET!r} is the --superlink one (or the local one)"
        )
    return TargetNames(frozenset([*named, DEFAULT_TARGET]), DEFAULT_TARGET)


class TargetRuntimes:
    """A `Runtime` over one runtime per target: each call goes to the target it names;
    `observe` asks every target (one that cannot be reached fails the whole observation,
    so that no decision is taken from a partial picture)."""

    def __init__(self, runtimes: Mapping[str, Runtime]) -> None:
        self._runtimes = dict(runtimes)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._runtimes)

    def _of(self, target: str) -> Runtime:
        runtime = self._runtimes.get(target)
        if runtime is None:
            known = ", ".join(self._runtimes)
            raise RunNotFound(f"target {target!r} is not configured (configured: {known})")
        return runtime

    def submit(self, req: RunRequest) -> int:
        return self._of(req.target).submit(req)

    def find_run(
        self,
        federation: FederationKey,
        generation: int,
        attempt: int,
        *,
        target: str = DEFAULT_TARGET,
    ) -> int | None:
        return self._of(target).find_run(federation, generation, attempt, target=target)

    def observe(self) -> list[RunObservation]:
        return [run for runtime in self._runtimes.values() for run in runtime.observe()]

    def stop(self, run_id: int, *, target: str = DEFAULT_TARGET) -> None:
        self._of(target).stop(run_id, target=target)

    def logs(self, run_id: int, *, after: float = 0, target: str = DEFAULT_TARGET) -> list[str]:
        return self._of(target).logs(run_id, after=after, target=target)

    def nodes(self, *, target: str = DEFAULT_TARGET) -> list[NodeInfo]:
        return self._of(target).nodes(target=target)
