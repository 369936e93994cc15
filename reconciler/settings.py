"""Settings, grouped by area: one frozen dataclass each, every field with its unit and default.

Built from flags and the environment by `reconciler.cli.run`; the daemon only reads them.
Secrets are read from the environment by name at the point of use and never stored here,
so printing a Settings object can never leak one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.plan import PlanOptions

if TYPE_CHECKING:
    from reconciler.notify import NotifyConfig

STATE_DIR = Path(".thunderline")


@dataclass(frozen=True)
class SourceSettings:
    repo: str  # URL (file://, git://, https://, ssh) or local path of the spec repository
    branch: str = "main"
    interval: float = 30.0  # seconds between polls
    jitter: float = 0.1  # fraction of the interval added at random, so replicas do not align
    depth: int | None = 1  # shallow fetch depth; None for full history
    workdir: Path = STATE_DIR / "source"  # the daemon's own checkout
    token_env: str = "GIT_TOKEN"  # environment variable holding an https token, if any
    ssh_key: Path | None = None  # key file for ssh remotes
    watch: Path | None = None  # a local repository to watch for new commits (watchdog)
    # A revision whose specs/ a person confirmed the pruning of (`--prune-confirm`): valid
    # while specs/ is exactly what it was there (docs/plan-semantics.md, the prune guard).
    prune_confirm: str | None = None


@dataclass(frozen=True)
class StoreSettings:
    database_url: str | None = None  # None: start the embedded PostgreSQL
    embedded_dir: Path = STATE_DIR / "pg"


@dataclass(frozen=True)
class TargetSettings:
    """One named SuperLink (`--flower-target name=ADDRESS[,ca=FILE|,insecure]`); TLS is
    chosen as for `--superlink` (reconciler/runtime/tls.py `choose_transport`)."""

    name: str  # what `spec.target` says: a DNS-1123 label
    address: str  # host:port of its Control API
    ca_file: Path | None = None  # PEM CA bundle its certificate must chain to
    insecure: bool = False  # plaintext, wherever it is


@dataclass(frozen=True)
class RuntimeSettings:
    # host:port of the SuperLink known as target "default"; None: start a local one, unless
    # `targets` names SuperLinks (then there is no "default" one)
    superlink: str | None = None
    local_supernodes: int = 3  # SuperNodes the local runtime starts
    workdir: Path = STATE_DIR / "flower"
    # The progress key as a file, shared with the SuperLink side (docs/security.md); None:
    # $THUNDERLINE_PROGRESS_KEY_FILE, else $THUNDERLINE_PROGRESS_SECRET, else the state dir.
    progress_key_file: Path | None = None
    # TLS to the SuperLink at `superlink` (docs/runtime.md, "TLS to Flower"): trust this PEM
    # CA bundle, or speak plaintext when `insecure`; neither: plaintext to a loopback
    # address, TLS checked against the default CAs otherwise.
    ca_file: Path | None = None
    insecure: bool = False
    # The local SuperLink and SuperNodes speak TLS, with a CA made for them in `workdir`.
    local_tls: bool = False
    # More SuperLinks, by name (docs/runtime.md, "Several SuperLinks"); `spec.target` picks one.
    targets: tuple[TargetSettings, ...] = ()


@dataclass(frozen=True)
class ArtifactSettings:
    # Where checkpoints go: a file:// folder (the embedded default; buckets become
    # sub-folders), or None for S3, using the bucket named in each spec.
    root: str | None = (STATE_DIR / "artifacts").as_posix()


@dataclass(frozen=True)
class ReportSettings:
    enabled: bool = True
    status_branch: str | None = None  # None: commit status/ to the spec branch itself
    # Seconds at least between status commits (changes in between are batched); 0: every
    # change. `reconciler run --status-interval` defaults to 30 s; the library, every change.
    interval: float = 0.0
    author_name: str = "Thunderline Reconciler"
    author_email: str = "reconciler@thunderline.invalid"
    workdir: Path = STATE_DIR / "status"  # the writer's own clone


@dataclass(frozen=True)
class HttpLimits:
    """Bounds on every slow path of the HTTP server (`reconciler.serving`)."""

    # Seconds from connecting, or from the last answer, to a request's complete headers;
    # past it the connection is closed (a client trickling headers, slowloris).
    header_timeout: float = 10.0
    # Seconds from a request's headers to the last byte of its body; past it 408 and close.
    body_timeout: float = 10.0
    # Whole seconds a connection may wait silently for its next request (also a new one).
    idle_timeout: int = 5
    # Requests handled at once; more are answered 503 with Retry-After, body unread.
    max_requests: int = 256


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080  # 0 picks a free port
    webhook_secret_env: str = "THUNDERLINE_WEBHOOK_SECRET"
    public_url: str | None = None  # how the ServerApp reaches us; default http://host:port
    console_token: str | None = None  # asked of console readers off loopback (console/access.py)
    # reverse proxies (CIDRs) whose identity header lets a console reader in without the token
    console_trusted_proxies: tuple[str, ...] = ()
    console_identity_header: str = "X-Forwarded-User"  # = console.access.IDENTITY_HEADER
    limits: HttpLimits = field(default_factory=HttpLimits)


@dataclass(frozen=True)
class LeaderSettings:
    poll: float = 1.0  # seconds between a standby's lock attempts; a failover takes at most one
    jitter: float = 0.2  # +- fraction of `poll`, so standbys do not align


@dataclass(frozen=True)
class Backoff:
    """Delays between retries, in seconds; the last repeats. Reset after a success."""

    delays: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    jitter: float = 0.2  # +- fraction applied to each delay

    def delay(self, failures: int) -> float:
        base = self.delays[min(max(failures, 1), len(self.delays)) - 1]
        return base * (1 + random.uniform(-self.jitter, self.jitter))


@dataclass(frozen=True)
class Settings:
    source: SourceSettings
    store: StoreSettings = field(default_factory=StoreSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    artifacts: ArtifactSettings = field(default_factory=ArtifactSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    plan: PlanOptions = field(default_factory=PlanOptions)
    # Retries while a part is down; today the leader lock's attempts during a database outage.
    backoff: Backoff = field(default_factory=Backoff)
    leader: LeaderSettings = field(default_factory=LeaderSettings)
    # The notifications file, read (`--notifications`); None: no notifications are sent.
    # It names the environment variables holding its secrets, never their values.
    notifications: NotifyConfig | None = None
