"""A team's own Flower app (`spec.app`): read its pyproject and check a spec against it.

`parse_manifest(text)` reads an app's `pyproject.toml` into an `AppManifest` (the keys a FAB
needs and the run-config keys the app declares); `app_findings(document, manifest)` says what
in a spec that app cannot take (an unknown `spec.app.config` key, which Flower would answer
with HTTP 412; a value of another type than the app's default; a round count that disagrees
with the app's `num-server-rounds`); `pause_findings` refuses `paused` for an app without the
control SDK. `repo_app_findings(document, root)` does both for an app folder in a checkout. Callers: `filecheck` (validate and plan, which have the repository)
and `runtime.apps` (the driver checks again right before it submits, for every kind of app).
Standard library only (tomllib), no Flower import: `reconciler validate` must stay fast.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.specs.nodes import Path as FieldPath

RuleFinding = tuple[FieldPath, str]
Scalar = str | int | float | bool

# The one run-config key through which the reconciler talks to a third-party app. An app
# that declares it in [tool.flwr.app.config] uses the control SDK (`reconciler.sdk`): it
# reports rounds and obeys pause and stop. For every other app the reconciler adds the key
# to the FAB it submits, only to carry the run's identity (Flower refuses undeclared keys).
APP_CONTROL_KEY = "thunderline-control"
ROUNDS_KEY = "num-server-rounds"  # Flower's own convention for an app's round count
MAX_MANIFEST_BYTES = 256 * 1024
APP_SECTION = ("spec", "app")


class AppManifestError(ValueError):
    """The app's pyproject.toml cannot be read or is not a Flower app; the message says why."""


@dataclass(frozen=True)
class AppManifest:
    """What a FederationSpec needs to know about an app, from its pyproject.toml."""

    where: str  # the app as people should read it: "apps/quickstart-numpy" or the FAB URI
    name: str
    version: str
    publisher: str
    serverapp: str
    clientapp: str
    config: Mapping[str, Scalar] = field(default_factory=dict)  # flattened, dotted keys

    @property
    def controlled(self) -> bool:
        """The app uses the control SDK: it reports progress and can pause at a boundary."""
        return APP_CONTROL_KEY in self.config


def spec_app(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The document's `spec.app`, or None when the federation runs the built-in app."""
    spec = document.get("spec")
    app = spec.get("app") if isinstance(spec, Mapping) else None
    return app if isinstance(app, Mapping) else None


def app_config(document: Mapping[str, Any]) -> dict[str, Any]:
    app = spec_app(document) or {}
    config = app.get("config")
    return dict(config) if isinstance(config, Mapping) else {}


def parse_manifest(text: str, *, where: str) -> AppManifest:
    """An app's manifest from its pyproject text; AppManifestError lists every gap."""
    import tomllib  # here, not at the top: only specs with an app pay for it in `validate`

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AppManifestError(f"{where}/pyproject.toml is not valid TOML: {exc}") from None
    project = _table(data, "project")
    flwr_app = _table(_table(_table(data, "tool"), "flwr"), "app")
    components = _table(flwr_app, "components")
    fields = {
        "[project] name": project.get("name"),
        "[project] version": project.get("version"),
        "[tool.flwr.app] publisher": flwr_app.get("publisher"),
        "[tool.flwr.app.components] serverapp": components.get("serverapp"),
        "[tool.flwr.app.components] clientapp": components.get("clientapp"),
    }
    missing = [name for name, value in fields.items() if not (isinstance(value, str) and value)]
    if missing:
        raise AppManifestError(
            f"{where}/pyproject.toml is not a Flower app: missing {', '.join(missing)}"
        )
    name, version, publisher, serverapp, clientapp = (str(v) for v in fields.values())
    return AppManifest(
        where, name, version, publisher, serverapp, clientapp, _flatten(_config(flwr_app, where))
    )


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _config(flwr_app: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    config = flwr_app.get("config", {})
    if not isinstance(config, Mapping):
        raise AppManifestError(f"{where}/pyproject.toml: [tool.flwr.app.config] must be a table")
    return config


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """Nested config tables become dotted keys, as Flower flattens them."""
    out: dict[str, Scalar] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, str | int | float | bool):
            out[f"{prefix}{key}"] = value
    return out


def read_manifest(root: Path, app_path: str) -> AppManifest:
    """The manifest of the app folder `app_path` (relative to the repository `root`)."""
    where = posixpath.normpath(app_path)
    folder = root / where
    if not folder.resolve().is_relative_to(root.resolve()):
        raise AppManifestError(f"{where} leads outside the repository")
    if not folder.is_dir():
        raise AppManifestError(f"{where} is not a folder in this repository")
    try:
        with open(folder / "pyproject.toml", "rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise AppManifestError(f"{where} has no pyproject.toml: it is not a Flower app") from None
    except OSError as exc:
        raise AppManifestError(f"cannot read {where}/pyproject.toml: {exc.strerror}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise AppManifestError(f"{where}/pyproject.toml is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        return parse_manifest(raw.decode("utf-8"), where=where)
    except UnicodeDecodeError:
        raise AppManifestError(f"{where}/pyproject.toml is not UTF-8 text") from None


def app_findings(document: Mapping[str, Any], manifest: AppManifest) -> list[RuleFinding]:
    """What in `document` the app described by `manifest` cannot run with."""
    return [*_config_findings(document, manifest), *_rounds_findings(document, manifest)]


def pause_findings(document: Mapping[str, Any], manifest: AppManifest) -> list[RuleFinding]:
    """`paused: true` for an app that cannot pause: refused, so the plan shows it."""
    spec = document.get("spec")
    if not isinstance(spec, Mapping) or spec.get("paused") is not True or manifest.controlled:
        return []
    message = (
        f"app {manifest.where} does not use the control SDK (no '{APP_CONTROL_KEY}' key in "
        "its [tool.flwr.app.config]), so it cannot pause at a round boundary; use "
        "stop: true, or adopt the SDK (docs/byo-apps.md)"
    )
    return [(("spec", "paused"), message)]


def _config_findings(document: Mapping[str, Any], manifest: AppManifest) -> Iterator[RuleFinding]:
    declared = sorted(k for k in manifest.config if k != APP_CONTROL_KEY)
    for key, value in app_config(document).items():
        where = (*APP_SECTION, "config", key)
        if key == APP_CONTROL_KEY:
            yield where, "set by the reconciler for every run; remove it from spec.app.config"
        elif key not in manifest.config:
            known = ", ".join(declared) if declared else "none"
            yield (
                where,
                f"'{key}' is not a run-config key of app {manifest.where} (it declares: "
                f"{known}); Flower would refuse the run",
            )
        elif (problem := _type_problem(key, value, manifest)) is not None:
            yield where, problem


# The TOML types of [tool.flwr.app.config] as people call them. Flower checks only the keys
# of an override, not its type: the app would get "3" where its code expects 3.
_TYPE_NAMES: Mapping[type, str] = {bool: "boolean", int: "integer", float: "float", str: "string"}


def _type_problem(key: str, value: object, manifest: AppManifest) -> str | None:
    """Why `value` cannot stand for the app's default of `key`; None if it can.

    An integer is a valid float (YAML `lr: 1` for TOML `lr = 0.1`); nothing else converts.
    A value that is no scalar at all is the schema's finding, not repeated here.
    """
    declared, given = type(manifest.config[key]), type(value)
    if given is declared or (declared is float and given is int) or given not in _TYPE_NAMES:
        return None
    given_name = _TYPE_NAMES[given]
    return (
        f"'{key}' is declared as {_article(_TYPE_NAMES[declared])} by app {manifest.where} "
        f"(default {manifest.config[key]!r}), but the spec gives {_article(given_name)} "
        f"({value!r})"
    )


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _rounds_findings(document: Mapping[str, Any], manifest: AppManifest) -> Iterator[RuleFinding]:
    spec = document.get("spec")
    rounds = spec.get("rounds") if isinstance(spec, Mapping) else None
    total = rounds.get("total") if isinstance(rounds, Mapping) else None
    runs = app_config(document).get(ROUNDS_KEY, manifest.config.get(ROUNDS_KEY))
    if _is_int(total) and _is_int(runs) and total != runs:
        yield (
            ("spec", "rounds", "total"),
            f"app {manifest.where} runs {ROUNDS_KEY} = {runs} rounds; make rounds.total and "
            f"spec.app.config.{ROUNDS_KEY} agree",
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def repo_app_findings(document: Any, root: Path) -> list[RuleFinding]:
    """App problems of a spec whose `spec.app.path` is a folder of the checkout at `root`.

    An app given by `uri` is a packaged FAB: it is fetched, verified and checked by the
    runtime right before submission, not here (validate runs offline, in pre-commit hooks).
    """
    app = spec_app(document) if isinstance(document, Mapping) else None
    path = app.get("path") if app is not None else None
    if not isinstance(path, str) or not path or app is None or app.get("uri") is not None:
        return []
    try:
        manifest = read_manifest(root, path)
    except AppManifestError as exc:
        return [((*APP_SECTION, "path"), str(exc))]
    return app_findings(document, manifest) + pause_findings(document, manifest)
