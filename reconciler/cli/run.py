"""`reconciler run`: the GitOps daemon.

    reconciler run --repo URL_OR_PATH [--branch main] [--interval 30] [--superlink HOST:PORT]

Database from `--database-url` or `DATABASE_URL` (else the embedded PostgreSQL); Flower from
`--superlink` (else a local SuperLink with `--local-supernodes` SuperNodes); checkpoints in
`--artifact-root` (a local folder; `--s3` stores them in each spec's bucket, at
`--s3-endpoint` or $AWS_ENDPOINT_URL for MinIO/Ceph). SIGTERM or
Ctrl-C finishes the running cycle, releases the leader lock and exits 0.

Progress reports: a local SuperLink gets the daemon's progress key by itself; with
`--superlink`, put the same key in the SuperLink's environment (a file named by
THUNDERLINE_PROGRESS_KEY_FILE) and give the daemon that file with `--progress-key-file`
(default: $THUNDERLINE_PROGRESS_KEY_FILE, else $THUNDERLINE_PROGRESS_SECRET, else a key made
once in the state folder). See docs/security.md.

TLS to Flower: `--flower-ca-file` (default: $THUNDERLINE_FLOWER_CA_FILE) makes the daemon
speak TLS to `--superlink` and trust that CA bundle; `--flower-insecure` speaks plaintext.
With neither, a loopback SuperLink is reached in plaintext and any other over TLS checked
against the default CAs. `--local-flower-tls` runs the local SuperLink and SuperNodes with
TLS (a CA made for them). See docs/runtime.md.

Several SuperLinks: `--flower-target NAME=HOST:PORT[,ca=FILE|,insecure]`, repeated (default:
$THUNDERLINE_FLOWER_TARGETS, the same items separated by ';'), names more SuperLinks; a spec
picks one with `spec.target`. `--superlink` (or the local SuperLink, when neither is given)
is the target "default". See docs/runtime.md, "Several SuperLinks".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.cli import EXIT_ERROR
from reconciler.cli.common import (
    add_admission_arguments,
    add_flower_tls_arguments,
    add_notifications_argument,
    add_policy_argument,
    add_prune_arguments,
    flower_ca_file,
    flower_transport,
    notifications_from,
    plan_options_from,
    policy_from,
)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the reconciler daemon", description=__doc__)
    src = p.add_argument_group("source")
    src.add_argument("--repo", required=True, help="spec repository: URL or local path")
    src.add_argument("--branch", default="main", help="branch to follow (default: %(default)s)")
    src.add_argument(
        "--interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between polls (default: %(default)s)",
    )
    src.add_argument(
        "--watch",
        type=Path,
        metavar="PATH",
        help="also start a cycle on each commit to this local repository (default: off)",
    )
    src.add_argument(
        "--ssh-key", type=Path, metavar="FILE", help="key file for ssh remotes (default: none)"
    )
    src.add_argument(
        "--full-clone", action="store_true", help="fetch full history (default: depth 1)"
    )
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: $DATABASE_URL, else the embedded database in "
        ".thunderline/pg)",
    )
    p.add_argument(
        "--superlink",
        metavar="HOST:PORT",
        help="Flower SuperLink Control API (default: start a local one)",
    )
    p.add_argument(
        "--progress-key-file",
        type=Path,
        metavar="FILE",
        help="the progress key, shared with the SuperLink side (its "
        "THUNDERLINE_PROGRESS_KEY_FILE; default: see above)",
    )
    p.add_argument(
        "--local-supernodes",
        type=int,
        default=3,
        metavar="N",
        help="SuperNodes the local SuperLink gets, without --superlink (default: %(default)s)",
    )
    p.add_argument(
        "--local-flower-tls",
        action="store_true",
        help="the local SuperLink and SuperNodes speak TLS (certificates made in the state "
        "folder; default: plaintext on loopback)",
    )
    add_flower_tls_arguments(p)
    p.add_argument(
        "--flower-target",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT[,ca=FILE|,insecure]",
        help="one more SuperLink, named for spec.target (repeatable; default: "
        "$THUNDERLINE_FLOWER_TARGETS)",
    )
    p.add_argument(
        "--artifact-root",
        default=".thunderline/artifacts",
        metavar="DIR",
        help="folder for checkpoints, unless --s3 (default: %(default)s)",
    )
    p.add_argument(
        "--s3",
        action="store_true",
        help="write checkpoints to each spec's S3 bucket (default: --artifact-root)",
    )
    p.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="S3 endpoint URL for MinIO/Ceph (sets AWS_ENDPOINT_URL for this process and the "
        "Flower processes it starts; default: $AWS_ENDPOINT_URL, else AWS)",
    )
    add_admission_arguments(p)
    guard = add_prune_arguments(p)
    guard.add_argument(
        "--prune-confirm",
        metavar="REVISION",
        help="confirm the deletions of REVISION: holds while specs/ stays as it is there",
    )
    p.add_argument(
        "--status-branch",
        metavar="BRANCH",
        help="commit status reports to this branch (default: the --branch followed)",
    )
    p.add_argument(
        "--status-interval",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="at least this long between status commits; changes in between are batched"
        " into the next one (0: a commit per changed cycle; default: %(default)s)",
    )
    p.add_argument(
        "--no-status",
        action="store_true",
        help="do not commit status reports (default: commit them)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the HTTP endpoints listen on (default: %(default)s)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port of the HTTP endpoints; 0 picks a free one (default: %(default)s)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="URL at which Flower apps reach this daemon (default: http://HOST:PORT)",
    )
    p.add_argument(
        "--console-token",
        default=os.environ.get("THUNDERLINE_CONSOLE_TOKEN"),
        help="the web console's token, asked when --host is not loopback "
        "(default: $THUNDERLINE_CONSOLE_TOKEN; without one the console stays closed there)",
    )
    p.add_argument(
        "--console-trusted-proxy",
        action="append",
        type=_proxy_network,
        default=[],
        metavar="CIDR",
        help="a reverse proxy's address or network whose identity header lets a console "
        "reader in without the token; repeatable (default: none)",
    )
    p.add_argument(
        "--console-identity-header",
        metavar="NAME",
        help="the header a trusted proxy names its user in (default: X-Forwarded-User)",
    )
    add_http_limits(p)
    p.add_argument(
        "--no-leader-election",
        action="store_true",
        help="act without taking the leader lock: only when one daemon is certain "
        "(default: take it)",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR (default: %(default)s)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one object per line (time, level, logger, message) for log shippers "
        "(default: %(default)s)",
    )
    add_policy_argument(p)
    add_notifications_argument(p)
    p.set_defaults(handler=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return value


def _proxy_network(text: str) -> str:
    """A CIDR or an address, checked here so a typo stops `run` with the flag named."""
    import ipaddress

    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def add_http_limits(p: argparse.ArgumentParser) -> None:
    """Flags for `HttpLimits` (reconciler/settings.py), with its defaults."""
    g = p.add_argument_group("HTTP limits", "bounds on slow and broken clients")
    g.add_argument(
        "--http-header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close a connection whose request headers are not complete after this long "
        "(default %(default)s)",
    )
    g.add_argument(
        "--http-body-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="answer 408 to a request body not in after this long (default %(default)s)",
    )
    g.add_argument(
        "--http-idle-timeout",
        type=int,
        default=5,
        metavar="SECONDS",
        help="close a connection silent for this long (default %(default)s)",
    )
    g.add_argument(
        "--http-max-requests",
        type=int,
        default=256,
        metavar="N",
        help="requests handled at once; more are answered 503 (default %(default)s)",
    )


def http_limits_from(args: argparse.Namespace) -> Any:
    from reconciler.settings import HttpLimits

    limits = HttpLimits(
        header_timeout=args.http_header_timeout,
        body_timeout=args.http_body_timeout,
        idle_timeout=args.http_idle_timeout,
        max_requests=args.http_max_requests,
    )
    if min(limits.header_timeout, limits.body_timeout, limits.idle_timeout) <= 0:
        raise ValueError("--http-*-timeout must be positive")
    if limits.max_requests < 1:
        raise ValueError("--http-max-requests must be at least 1")
    return limits


def settings_from(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from reconciler.runtime.targets import parse_targets, target_names, targets_in_env
    from reconciler.settings import (
        ArtifactSettings,
        HttpSettings,
        ReportSettings,
        RuntimeSettings,
        Settings,
        SourceSettings,
        StoreSettings,
    )

    runtime = RuntimeSettings(
        superlink=args.superlink,
        local_supernodes=args.local_supernodes,
        progress_key_file=args.progress_key_file,
        ca_file=flower_ca_file(args),
        insecure=args.flower_insecure,
        local_tls=args.local_flower_tls,
        targets=parse_targets(args.flower_target or targets_in_env(os.environ)),
    )
    plan = replace(plan_options_from(args, policy_from(args)), targets=target_names(runtime))
    return Settings(
        source=SourceSettings(
            repo=args.repo,
            branch=args.branch,
            interval=args.interval,
            depth=None if args.full_clone else 1,
            ssh_key=args.ssh_key,
            watch=args.watch,
            prune_confirm=args.prune_confirm,
        ),
        store=StoreSettings(database_url=args.database_url),
        runtime=runtime,
        artifacts=ArtifactSettings(root=None if args.s3 else args.artifact_root),
        report=ReportSettings(
            enabled=not args.no_status,
            status_branch=args.status_branch,
            interval=args.status_interval,
        ),
        http=HttpSettings(
            host=args.host,
            port=args.port,
            public_url=args.public_url,
            console_token=args.console_token,
            console_trusted_proxies=tuple(args.console_trusted_proxy),
            console_identity_header=args.console_identity_header
            or HttpSettings.console_identity_header,
            limits=http_limits_from(args),
        ),
        plan=plan,
        notifications=notifications_from(args),
    )


def use_s3_endpoint(url: str | None) -> None:
    """Point S3 clients here and in child processes at `url`; remote SuperNodes need their own."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--s3-endpoint must be an http:// or https:// URL, not {url!r}")
    os.environ["AWS_ENDPOINT_URL"] = url


def check_flower_tls(settings: Any, args: argparse.Namespace) -> None:
    """Refuse contradictory TLS flags and an unusable CA file before anything starts."""
    from reconciler.runtime.targets import transport_of

    if args.superlink is not None:
        flower_transport(args, args.superlink).root_certificates()
    for target in settings.runtime.targets:
        transport_of(target).root_certificates()


def run(args: argparse.Namespace) -> int:
    from reconciler.daemon.main import serve
    from reconciler.notify import NotificationsInvalid
    from reconciler.runtime.tls import TlsConfigError
    from reconciler.specs.policyfile import PolicyInvalid

    try:
        settings = settings_from(args)
        check_flower_tls(settings, args)
        use_s3_endpoint(args.s3_endpoint)
    except (ValueError, PolicyInvalid, NotificationsInvalid, TlsConfigError) as exc:
        print(f"reconciler run: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return serve(
        settings,
        log_level=args.log_level,
        leader_election=not args.no_leader_election,
        log_format=args.log_format,
    )
