"""Build the daemon's real adapters from `Settings`, and tear them down in reverse.

The embedded defaults live here: no `DATABASE_URL` starts the embedded PostgreSQL, no
SuperLink address (and no named target) starts a local Flower runtime. Each choice is logged
in one line that names what is in use and never a password.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.daemon.apitoken import api_token
from reconciler.daemon.desired import WORKTREE_EXCLUDES
from reconciler.daemon.service import Parts
from reconciler.model import DEFAULT_TARGET
from reconciler.report import StatusWriter
from reconciler.runtime.base import Runtime, RuntimeFailure
from reconciler.runtime.progress import MIN_KEY_BYTES, PROGRESS_KEY_FILE_ENV
from reconciler.settings import STATE_DIR, Settings
from reconciler.source import GitSource
from reconciler.store import LeaderLock, Store, database_url

if TYPE_CHECKING:
    from reconciler.runtime.flower import FlowerRuntime
    from reconciler.runtime.tls import Transport

log = logging.getLogger(__name__)

PROGRESS_SECRET_ENV = "THUNDERLINE_PROGRESS_SECRET"


class ProgressKeyUnusable(RuntimeFailure):
    """The configured progress key cannot be read or is too short (the message has no key)."""


def progress_secret(state_dir: Path = STATE_DIR, key_file: Path | None = None) -> bytes:
    """The progress key: ServerApps derive their tokens from it, the daemon checks them.

    The SuperLink side must hold the same key (a local SuperLink gets it from the daemon;
    an external one from its operator, docs/security.md). It must outlive a restart (runs in
    flight keep deriving from it), so it comes from `key_file` (`--progress-key-file`), else
    the file named by `THUNDERLINE_PROGRESS_KEY_FILE`, else `THUNDERLINE_PROGRESS_SECRET`,
    else a 0600 file in the state dir made once; replicas share a file or the variable."""
    named = key_file or (
        Path(os.environ[PROGRESS_KEY_FILE_ENV]) if os.environ.get(PROGRESS_KEY_FILE_ENV) else None
    )
    if named is not None:
        try:
            key = named.read_bytes().strip()
        except OSError as exc:
            raise ProgressKeyUnusable(f"progress key file {named}: {exc.strerror}") from None
        source = f"progress key file {named}"
    elif os.environ.get(PROGRESS_SECRET_ENV, ""):
        key, source = os.environ[PROGRESS_SECRET_ENV].strip().encode(), PROGRESS_SECRET_ENV
    else:
        path = state_dir / "progress.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        key, source = path.read_text().strip().encode(), f"progress key file {path}"
    if len(key) < MIN_KEY_BYTES:
        raise ProgressKeyUnusable(f"{source}: the key must be at least {MIN_KEY_BYTES} bytes")
    return key


def _runtime(settings: Settings, stack: ExitStack, key: bytes) -> tuple[Runtime, str | None]:
    """One driver per target (docs/runtime.md, "Several SuperLinks"), behind one router;
    and the default target's address (None: there is none), which the CLI reads back."""
    from reconciler.runtime.targets import TargetRuntimes, has_default, transport_of

    runtimes: dict[str, Runtime] = {}
    address = None
    if has_default(settings.runtime):
        default = _default_runtime(settings, stack, key)
        runtimes[DEFAULT_TARGET], address = default, default.address
    for target in settings.runtime.targets:
        runtimes[target.name] = _driver(target.name, target.address, transport_of(target), stack)
    return TargetRuntimes(runtimes), address


def _default_runtime(settings: Settings, stack: ExitStack, key: bytes) -> FlowerRuntime:
    """`--superlink` with the TLS flags, else a local SuperLink and SuperNodes."""
    from reconciler.runtime.local import LocalFlower
    from reconciler.runtime.tls import choose_transport

    address = settings.runtime.superlink
    if address is not None:
        # Its operator gives it the same key (THUNDERLINE_PROGRESS_KEY_FILE): docs/security.md.
        transport = choose_transport(
            address, ca_file=settings.runtime.ca_file, insecure=settings.runtime.insecure
        )
        return _driver(DEFAULT_TARGET, address, transport, stack)
    local = LocalFlower(
        settings.runtime.workdir,
        supernodes=settings.runtime.local_supernodes,
        progress_key=key,  # the SuperLink's copy; SuperNodes never get it
        tls=settings.runtime.local_tls,
    )
    log.info(
        "Flower: starting a local SuperLink and %d SuperNodes", settings.runtime.local_supernodes
    )
    stack.enter_context(local)
    return _driver(DEFAULT_TARGET, local.address, local.transport, stack)


def _driver(name: str, address: str, transport: Transport, stack: ExitStack) -> FlowerRuntime:
    from reconciler.runtime.flower import FlowerRuntime

    log.info("Flower: target %s, SuperLink at %s (%s)", name, address, transport.describe())
    runtime = FlowerRuntime(address, transport=transport, name=name)
    stack.callback(runtime.close)
    return runtime


def _store(settings: Settings, stack: ExitStack) -> tuple[Store, str]:
    env = dict(os.environ)
    if settings.store.database_url:
        env["DATABASE_URL"] = settings.store.database_url
    url, described = database_url(env, settings.store.embedded_dir)
    log.info("database: %s", described)
    store = stack.enter_context(Store.connect(url))
    store.migrate()
    return store, url


def _writer(settings: Settings) -> StatusWriter | None:
    report, source = settings.report, settings.source
    if not report.enabled:
        return None
    return StatusWriter(
        report.workdir,
        remote=source.repo,
        branch=source.branch,
        status_branch=report.status_branch,
        author_name=report.author_name,
        author_email=report.author_email,
        token_env=source.token_env,
        ssh_key=source.ssh_key,
    )


@contextmanager
def real_parts(settings: Settings, *, leader_election: bool = True) -> Iterator[Parts]:
    with ExitStack() as stack:
        store, url = _store(settings, stack)
        key = progress_secret(key_file=settings.runtime.progress_key_file)
        runtime, superlink = _runtime(settings, stack, key)
        src = settings.source
        source = GitSource(
            src.repo,
            src.workdir,
            branch=src.branch,
            depth=src.depth,
            token_env=src.token_env,
            ssh_key=src.ssh_key,
            sparse_excludes=WORKTREE_EXCLUDES,
        )
        webhook = os.environ.get(settings.http.webhook_secret_env, "")
        yield Parts(
            store=store,
            runtime=runtime,
            source=source,
            writer=_writer(settings),
            leader=LeaderLock(url) if leader_election else None,
            progress_secret=key,
            webhook_secret=webhook.encode() if webhook else None,
            api_token=api_token(create=True),
            superlink=superlink,
        )
