"""`reconciler history NAME`: one federation's generations, runs and checkpoints.

Each generation began with an event that recorded a spec (created, updated in place or
replaced, with the fields that changed); under it are its Flower runs (attempt, run id,
status) and its checkpoints (round, URI, sha256). The commit that changed the spec is not
recorded in the database: `git log -- <path>` in the spec repository names it.
Exit codes: 0 shown, 1 NAME names no single federation, 2 database error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.cli.common import add_database_argument, fail, open_store
from reconciler.cli.output import TEXT, add_output_argument, camel_keys, dump

if TYPE_CHECKING:
    from reconciler.model import FederationKey
    from reconciler.store import ArtifactRecord, Event, RunRecord, Store


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "history",
        help="list one federation's generations, runs and checkpoints",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("name", metavar="NAME", help="tenant/name or a bare name")
    add_output_argument(parser)
    add_database_argument(parser)
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Generation:
    number: int
    began: Event | None  # None: its event is gone (an outbox pruned by hand)
    runs: Sequence[RunRecord]
    checkpoints: Sequence[ArtifactRecord]


def run(args: argparse.Namespace) -> int:
    from reconciler.cli.federation import NameNotFound, resolve
    from reconciler.store import StoreError

    try:
        with open_store(args, create=False, announce=False) as store:
            key = resolve(store, args.name)
            generations = load(store, key)
    except NameNotFound as exc:
        print(f"reconciler history: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        return fail("history", exc)
    if args.output == TEXT:
        print(render_text(key, generations))
    else:
        print(dump(document(key, generations), args.output))
    return 0


def load(store: Store, key: FederationKey) -> list[Generation]:
    began = {e.generation: e for e in store.spec_events(key) if e.generation is not None}
    runs, artifacts = store.runs(key), store.artifacts(key)
    numbers = sorted({*began, *(r.generation for r in runs), *(a.generation for a in artifacts)})
    return [
        Generation(
            number=n,
            began=began.get(n),
            runs=[r for r in runs if r.generation == n],
            checkpoints=[a for a in artifacts if a.generation == n],
        )
        for n in numbers
    ]


def document(key: FederationKey, generations: Sequence[Generation]) -> dict[str, Any]:
    return camel_keys(
        {
            "tenant": key.tenant,
            "name": key.name,
            "generations": [_generation_document(g) for g in generations],
        }
    )


def _generation_document(g: Generation) -> dict[str, Any]:
    from reconciler.cli.federation import artifact_document, run_document

    payload = g.began.payload if g.began else {}
    return {
        "generation": g.number,
        "event": g.began.type if g.began else None,
        "recorded_at": g.began.time.isoformat() if g.began else None,
        "digest": payload.get("digest"),
        "path": payload.get("path"),
        "changed": list(payload.get("changed", [])),
        "runs": [run_document(r) for r in g.runs],
        "checkpoints": [artifact_document(a) for a in g.checkpoints],
    }


def render_text(key: FederationKey, generations: Sequence[Generation]) -> str:
    from reconciler.cli.federation import stamp

    if not generations:
        return f"{key}: no generation recorded"
    lines: list[str] = []
    for g in generations:
        lines += ["", _generation_line(g)] if lines else [_generation_line(g)]
        lines += [
            f"  run {r.run_id}  attempt {r.attempt}  {r.status}"
            + (f":{r.sub_status}" if r.sub_status else "")
            + f"  started {stamp(r.created_at)}"
            for r in g.runs
        ]
        lines += [
            f"  checkpoint round {a.round}  {a.uri}  sha256 {a.sha256[:12]}  {stamp(a.created_at)}"
            for a in g.checkpoints
        ]
    return "\n".join(lines)


def _generation_line(g: Generation) -> str:
    from reconciler.cli.federation import stamp

    if g.began is None:
        return f"generation {g.number}"
    p = g.began.payload
    changed = ", ".join(p.get("changed", [])) or "-"
    return (
        f"generation {g.number}  {stamp(g.began.time)}  {g.began.type}"
        f"  digest {str(p.get('digest', ''))[:12]}  changed: {changed}"
    )
