"""A team's own Flower app (`spec.app`) turned into the FAB and run config the driver submits.

`prepare_app(document, repo_root)` returns None for the built-in app, else a `PreparedApp`:
the FAB built from the app folder (`spec.app.path`, relative to the checkout) or the
prebuilt FAB at `spec.app.uri`, fetched and verified against `spec.app.sha256` first; its
manifest; and `overrides(control)`, the run config to submit. Every submitted FAB declares
the `thunderline-control` key, added here when the app does not declare it itself: that key
carries the run's identity, which is how the driver finds and adopts its runs. An app that
declares the key itself uses the control SDK (`reconciler.sdk`).
`app_manifest(document, repo_root)` reads just the manifest (cached for packaged FABs);
`log_follow_mode(document, repo_root)` says how much of a run's log the daemon must read.
Called by `runtime.flower.FlowerRuntime.submit` and by the daemon's log follower.
"""

from __future__ import annotations

import hashlib
import io
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import tomli_w
from flwr.supercore.fab import Fab

from reconciler.artifacts import (
    ArtifactError,
    ArtifactNotFound,
    IntegrityError,
    StoreNotConfigured,
    fetch_verified,
)
from reconciler.flowerapp.settings import Control
from reconciler.runtime.base import RunRejected, RuntimeUnavailable
from reconciler.runtime.logprogress import Follow
from reconciler.specs.apps import (
    APP_CONTROL_KEY,
    AppManifest,
    AppManifestError,
    app_config,
    app_findings,
    parse_manifest,
    read_manifest,
    spec_app,
)
from reconciler.specs.nodes import field_name

PYPROJECT = "pyproject.toml"
FAB_MAX_BYTES = 10 * 1024 * 1024  # Flower refuses bigger FABs
OverrideValue = bool | float | int | str


@dataclass(frozen=True)
class PreparedApp:
    """A team's app, ready to submit."""

    fab: Fab
    manifest: AppManifest
    config: Mapping[str, OverrideValue]  # spec.app.config, checked against the manifest

    def overrides(self, control: Control) -> dict[str, OverrideValue]:
        return {**self.config, APP_CONTROL_KEY: control.to_json()}


def prepare_app(document: Mapping[str, Any], repo_root: Path) -> PreparedApp | None:
    """The FAB and checked config of the document's app; None for the built-in app.

    Raises `RunRejected` when the app is wrong for good (no such folder, bad pyproject,
    sha256 mismatch, unknown config key) and `RuntimeUnavailable` when fetching may work later.
    """
    app = spec_app(document)
    if app is None:
        return None
    where = str(app.get("path") or app.get("uri"))
    files = _app_files(app, repo_root)
    manifest = _manifest(files, where)
    problems = [f"{field_name(path)}: {msg}" for path, msg in app_findings(document, manifest)]
    if problems:
        raise RunRejected("; ".join(problems))
    return PreparedApp(_fab(files, where), manifest, app_config(document))


def app_manifest(document: Mapping[str, Any], repo_root: Path) -> AppManifest | None:
    """The manifest of the document's app (None for the built-in app); raises like
    `prepare_app`. Packaged FABs are fetched once per (uri, sha256) per process."""
    app = spec_app(document)
    if app is None:
        return None
    if app.get("path") is not None:
        try:
            return read_manifest(repo_root, str(app["path"]))
        except AppManifestError as exc:
            raise RunRejected(str(exc)) from None
    return _packaged_manifest(str(app.get("uri")), str(app.get("sha256")), repo_root)


@lru_cache(maxsize=64)
def _packaged_manifest(uri: str, sha256: str, repo_root: Path) -> AppManifest:
    files = _packaged_files(uri, sha256, repo_root)
    return _manifest(files, uri)


def _app_files(app: Mapping[str, Any], repo_root: Path) -> dict[str, bytes]:
    if app.get("path") is not None:
        return _folder_files(repo_root, str(app["path"]))
    return _packaged_files(str(app.get("uri")), str(app.get("sha256") or ""), repo_root)


def _folder_files(repo_root: Path, app_path: str) -> dict[str, bytes]:
    from flwr.cli.utils import collect_files  # see _fab: Flower's CLI costs ~22 MiB

    folder = (repo_root / app_path).resolve()
    if not folder.is_relative_to(repo_root.resolve()) or not folder.is_dir():
        raise RunRejected(f"app folder {app_path} not found in the repository checkout")
    return {name: path.read_bytes() for name, path in collect_files(folder).items()}


def _packaged_files(uri: str, sha256: str, repo_root: Path) -> dict[str, bytes]:
    """The files inside a prebuilt FAB, after its bytes matched `sha256`."""
    try:
        path = fetch_verified(uri, sha256=sha256 or None, repo_root=repo_root)
    except IntegrityError as exc:
        raise RunRejected(f"app FAB failed verification: {exc}") from None
    except (ArtifactNotFound, StoreNotConfigured) as exc:
        raise RunRejected(f"app FAB {uri}: {exc}") from None
    except ArtifactError as exc:
        raise RuntimeUnavailable(f"app FAB {uri} could not be fetched: {exc}") from None
    if path.stat().st_size > FAB_MAX_BYTES:
        raise RunRejected(f"app FAB {uri} is larger than Flower's {FAB_MAX_BYTES} bytes")
    try:
        with zipfile.ZipFile(path) as fab:
            return {n: fab.read(n) for n in fab.namelist() if not _is_fab_metadata(n)}
    except (zipfile.BadZipFile, OSError) as exc:
        raise RunRejected(f"app FAB {uri} is not a FAB (zip) file: {exc}") from None


def _is_fab_metadata(name: str) -> bool:
    return name.startswith(".info/") or name.endswith("/")


def _manifest(files: Mapping[str, bytes], where: str) -> AppManifest:
    raw = files.get(PYPROJECT)
    if raw is None:
        raise RunRejected(f"{where} has no pyproject.toml: it is not a Flower app")
    try:
        return parse_manifest(raw.decode("utf-8"), where=where)
    except (AppManifestError, UnicodeDecodeError) as exc:
        raise RunRejected(str(exc)) from None


def _fab(files: Mapping[str, bytes], where: str) -> Fab:
    """A FAB of `files` whose pyproject declares the control key (added when missing)."""
    # Imported here: Flower's CLI modules pull in FastAPI, Rich and Typer (~22 MiB of a
    # daemon's memory), and most daemons never build an app.
    from flwr.cli.build import build_fab_from_files

    patched = {**files, PYPROJECT: with_control_key(files[PYPROJECT])}
    try:
        content = build_fab_from_files(patched)[0]
    except (ValueError, OSError) as exc:
        raise RunRejected(f"{where} cannot be packaged as a FAB: {exc}") from None
    if len(content) > FAB_MAX_BYTES:
        raise RunRejected(f"{where} packs to {len(content)} bytes; Flower's limit is 10 MiB")
    return Fab(hashlib.sha256(content).hexdigest(), content, {})


def with_control_key(pyproject: bytes) -> bytes:
    """The pyproject with `thunderline-control` in [tool.flwr.app.config]; unchanged if there."""
    data = tomllib.loads(pyproject.decode("utf-8"))
    app = data.setdefault("tool", {}).setdefault("flwr", {}).setdefault("app", {})
    config = app.setdefault("config", {})
    if APP_CONTROL_KEY in config:
        return pyproject
    config[APP_CONTROL_KEY] = ""
    out = io.BytesIO()
    tomli_w.dump(data, out)
    return out.getvalue()


def log_follow_mode(document: Mapping[str, Any], repo_root: Path) -> Follow:
    """How much of a run's Flower log the daemon reads for the document's app
    (`runtime.logprogress`): nothing for the built-in app, failures for an app with the
    control SDK, rounds and outcome for an app without it."""
    manifest = app_manifest(document, repo_root)
    if manifest is None:
        return Follow.NOTHING
    return Follow.FAILURES if manifest.controlled else Follow.ROUNDS
