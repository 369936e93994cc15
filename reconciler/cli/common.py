"""Helpers the command modules share: the database flag, opening the store, one-line errors.

Heavy imports (psycopg, the store) happen inside the functions, so `--help` stays quick.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.notify import NotifyConfig
    from reconciler.plan import PlanOptions
    from reconciler.runtime.tls import Transport
    from reconciler.specs.policy import Policy
    from reconciler.store import Store

EMBEDDED_DATA_DIR = Path(".thunderline/pg")
DEMO_DATABASE = "thunderline_demo"  # made afresh by each `make demo` on the embedded server
DEMO_LOGS = Path(".thunderline/demo/logs")  # each run's Flower log, <run id>.log, saved by the
# demo before it stops its SuperLink
POLICY_ENV = "THUNDERLINE_POLICY"
NOTIFICATIONS_ENV = "THUNDERLINE_NOTIFICATIONS"
# Kept equal to reconciler.runtime.tls.CA_FILE_ENV (a test checks): importing that module
# here would load the runtime package for every command's --help.
FLOWER_CA_ENV = "THUNDERLINE_FLOWER_CA_FILE"


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: $DATABASE_URL, else the embedded database in "
        f"{EMBEDDED_DATA_DIR})",
    )
    where.add_argument(
        "--demo",
        action="store_true",
        help=f"the data the last `make demo` left (database {DEMO_DATABASE} of the embedded "
        "server, started for this command)",
    )


def add_prune_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """`--prune` and the prune guard's thresholds; the group, for a command to add to."""
    parser.add_argument(
        "--prune", action="store_true", help="deleted spec files stop their federations"
    )
    guard = parser.add_argument_group(
        "prune guard",
        "deleted files that would stop more than --prune-max-count AND more than "
        "--prune-max-share of the active federations stop none of them (PruneBlocked) until "
        "a person confirms: a commit trailer 'Thunderline-Prune: confirm', or the daemon's "
        "--prune-confirm",
    )
    guard.add_argument(
        "--prune-max-count", type=int, default=10, metavar="N", help="(default: %(default)s)"
    )
    guard.add_argument(
        "--prune-max-share",
        type=float,
        default=0.5,
        metavar="FRACTION",
        help="(default: %(default)s)",
    )
    return guard


def add_admission_arguments(parser: argparse.ArgumentParser) -> None:
    """The concurrency limits a start is queued behind (reconciler/plan/admission.py)."""
    group = parser.add_argument_group(
        "admission",
        "starts past a limit are queued (higher spec.priority first, tenants taking turns, "
        "then the longest waiting); a start also waits while fewer SuperNodes are online "
        "than its minAvailable",
    )
    group.add_argument(
        "--max-running",
        type=int,
        metavar="N",
        help="federations running at once on the SuperLink (default: no limit)",
    )
    group.add_argument(
        "--max-running-per-tenant",
        type=int,
        metavar="N",
        help="per tenant, where the tenant policy sets no maxConcurrent (default: no limit)",
    )


def plan_options_from(args: argparse.Namespace, policy: Policy) -> PlanOptions:
    """The planner's options from the prune and admission flags (ValueError if out of range)."""
    from reconciler.plan import PlanOptions

    return PlanOptions(
        prune=args.prune,
        prune_max_count=args.prune_max_count,
        prune_max_share=args.prune_max_share,
        policy=policy,
        max_running=args.max_running,
        max_running_per_tenant=args.max_running_per_tenant,
    )


def add_policy_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        metavar="FILE",
        type=Path,
        default=os.environ.get(POLICY_ENV) or None,
        help=f"tenant policy file (default: ${POLICY_ENV}, else the safe default policy: "
        "inputs from the repository and the tenant's own folder, Flower's built-in "
        "strategies, no own Flower apps; see docs/security.md)",
    )


def add_flower_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """`--flower-ca-file` and `--flower-insecure`, for every command that reaches a SuperLink."""
    group = parser.add_argument_group(
        "TLS to Flower",
        "TLS whenever a CA bundle is given; plaintext only to a loopback address or with "
        "--flower-insecure; any other SuperLink is spoken to over TLS checked against the "
        "default CAs",
    )
    group.add_argument(
        "--flower-ca-file",
        type=Path,
        metavar="FILE",
        help=f"PEM CA bundle the SuperLink's certificate must chain to (default: ${FLOWER_CA_ENV})",
    )
    group.add_argument(
        "--flower-insecure",
        action="store_true",
        help="speak plaintext to the SuperLink, wherever it is (its port then runs code for "
        "anyone who reaches it)",
    )


def flower_ca_file(args: argparse.Namespace) -> Path | None:
    """`--flower-ca-file`, else $THUNDERLINE_FLOWER_CA_FILE unless --flower-insecure."""
    if args.flower_ca_file is not None or args.flower_insecure:
        return Path(args.flower_ca_file) if args.flower_ca_file else None
    named = os.environ.get(FLOWER_CA_ENV, "")
    return Path(named) if named else None


def flower_transport(args: argparse.Namespace, address: str) -> Transport:
    """How to reach `address` from the TLS flags; raises `TlsConfigError` on contradictions."""
    from reconciler.runtime.tls import choose_transport

    return choose_transport(address, ca_file=flower_ca_file(args), insecure=args.flower_insecure)


def policy_from(args: argparse.Namespace) -> Policy:
    """The policy `--policy` names, or the default one; raises `PolicyInvalid`."""
    from reconciler.specs.policy import DEFAULT_POLICY
    from reconciler.specs.policyfile import load_policy

    return DEFAULT_POLICY if args.policy is None else load_policy(Path(args.policy))


def add_notifications_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notifications",
        metavar="FILE",
        type=Path,
        default=os.environ.get(NOTIFICATIONS_ENV) or None,
        help=f"notifications file: webhooks, Slack, commit statuses (default: "
        f"${NOTIFICATIONS_ENV}, else none; see docs/notifications.md)",
    )


def notifications_from(args: argparse.Namespace) -> NotifyConfig | None:
    """The file `--notifications` names, read; raises `NotificationsInvalid`."""
    if args.notifications is None:
        return None
    from reconciler.notify import load_notifications

    return load_notifications(Path(args.notifications))


@contextmanager
def open_store(args: argparse.Namespace, *, create: bool, announce: bool) -> Iterator[Store]:
    """The store named by `--database-url`, `--demo`, $DATABASE_URL or the embedded default.

    `create=False` refuses to create an empty embedded database (read-only commands);
    `announce` says on stderr which database is in use. Raises `StoreError`; a database
    without the schema is explained (after `make demo` the data is in another database).
    """
    from reconciler.store import SchemaMissing, Store, database_url

    demo = getattr(args, "demo", False)
    env = {"DATABASE_URL": args.database_url} if args.database_url else dict(os.environ)
    url, where = database_url({} if demo else env, EMBEDDED_DATA_DIR, create=create)
    if demo:
        url, where = _demo_database(url), f"{where}, database {DEMO_DATABASE} (make demo)"
    if announce:
        print(f"using {where}", file=sys.stderr)
    with Store.connect(url, min_size=1, application_name="thunderline-reconciler-cli") as store:
        try:
            yield store
        except SchemaMissing as exc:
            if demo or "DATABASE_URL" in env:
                raise
            raise SchemaMissing(
                f"{where} holds no reconciler data yet: no daemon has run on it. The data of "
                "`make demo` is read with --demo; a daemon elsewhere with --database-url or "
                "$DATABASE_URL (`reconciler migrate` would only create empty tables here)"
            ) from exc


def _demo_database(embedded_url: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(embedded_url, dbname=DEMO_DATABASE)


def fail(command: str, exc: Exception) -> int:
    """One line on stderr for an operational error; exit code 2."""
    print(f"reconciler {command}: {exc}", file=sys.stderr)
    return 2
