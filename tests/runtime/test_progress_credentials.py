"""No credential the daemon accepts is in anything a participant or a Control API reader sees.

On the flower tier's real SuperLink and SuperNodes, after a real federation ran: every string
in the run's run config (ListRuns override_config, and every string inside its JSON values)
and in the SuperNodes' node config, used as a bearer token against the daemon's own progress
sink on real PostgreSQL, is refused with 401 and changes nothing recorded; the progress key
and the run's token are in none of the run config, the FAB, the run's logs, the SuperNodes'
logs or their processes' environments. A control shows the same endpoint accepts the token
the ServerApp derives, so the refusals are not an endpoint that refuses everything.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flower_harness import KEY, SECRET, Finished, digits_document

from reconciler.daemon.sink import RecordingSink
from reconciler.flowerapp.settings import CONTROL_KEY, parse_control
from reconciler.model import FederationSpec, Phase
from reconciler.runtime.flower import FlowerRuntime, app_fab
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import ProgressReport, ReportKind, make_token
from reconciler.runtime.progress_server import ProgressServer
from reconciler.store import Store

pytestmark = [pytest.mark.flower, pytest.mark.pg, pytest.mark.timeout(400)]


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a value, and in any JSON text inside it, and the text itself."""
    if isinstance(value, str):
        yield value
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        if not isinstance(parsed, str):
            yield from strings_in(parsed)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)
    elif value is not None:
        yield str(value)


def run_config(runtime: FlowerRuntime, run_id: int) -> dict[str, Any]:
    """The run's override config as any Control API client reads it."""
    from flwr.common.serde import user_config_from_proto
    from flwr.proto.control_pb2 import ListRunsRequest  # pylint: disable=E0611

    runs = runtime._client.ListRuns(ListRunsRequest(run_id=run_id)).run_dict
    return dict(user_config_from_proto(runs[run_id].override_config))


def node_config(flower: LocalFlower) -> dict[str, str]:
    """What `--node-config` gives each SuperNode (their ClientApps' context.node_config)."""
    pairs = (f"partition-id={i} num-partitions={flower.supernodes}" for i in range(3))
    return dict(p.split("=") for line in pairs for p in line.split())


def post(url: str, report: ProgressReport, token: str) -> int:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, data=report.to_json(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def recorded(store: Store) -> tuple[Any, ...]:
    events = [(e.id, e.type) for e in store.events(limit=100_000)]
    return store.get(KEY), store.rounds(KEY), store.artifacts(KEY), store.runs(KEY), events


def test_nothing_a_participant_sees_is_accepted_as_a_token(
    finished_federation: Finished,
    runtime: FlowerRuntime,
    local_flower: LocalFlower,
    repo_root: Path,
    pg_url: str,
    tmp_path: Path,
) -> None:
    run_id = finished_federation.run_id
    config = run_config(runtime, run_id)
    control = parse_control(str(config[CONTROL_KEY]))
    candidates = set(strings_in(config)) | set(strings_in(node_config(local_flower)))
    candidates.discard("")
    assert len(candidates) > 40  # the whole spec and control block are in there

    with Store.connect(pg_url) as store:
        store.migrate()
        spec = FederationSpec(KEY, "specs/acme/digits.yaml", digits_document(repo_root))
        record = store.create(spec)
        store.record_run(KEY, generation=1, attempt=1, run_id=run_id, status="running")
        store.transition(
            KEY, Phase.STARTING, expected_version=record.version, attempt=1,
            payload={"run_id": run_id, "start_round": 1},
        )  # fmt: skip
        sink = RecordingSink(store, artifact_root=str(tmp_path / "artifacts"))
        claim = ProgressReport(str(KEY), 1, 1, run_id, ReportKind.ROUND_STARTED, 1)
        before = recorded(store)
        with ProgressServer(sink, SECRET, on_refused=sink.refused) as server:
            answers = {token: post(server.url, claim, token) for token in sorted(candidates)}
            unchanged = recorded(store)
            # The control: the token the ServerApp derives for this run is accepted.
            derived = make_token(SECRET, control.federation, 1, 1, run_id)
            accepted = post(server.url, claim, derived)

    refused = {token: status for token, status in answers.items() if status != 401}
    assert refused == {}, f"{len(refused)} run-config or node-config values were not refused"
    assert unchanged == before
    assert accepted == 200
    print(f"\ntried {len(answers)} run-config and node-config values as tokens: all 401")


def test_neither_the_key_nor_the_runs_token_is_anywhere_a_participant_looks(
    finished_federation: Finished, runtime: FlowerRuntime, local_flower: LocalFlower
) -> None:
    run_id = finished_federation.run_id
    config = run_config(runtime, run_id)
    control = parse_control(str(config[CONTROL_KEY]))
    token = make_token(SECRET, control.federation, control.generation, control.attempt, run_id)
    secrets = {"key": SECRET, "token": token.encode()}

    places: dict[str, bytes] = {
        "run config": json.dumps(config).encode(),
        "FAB": app_fab().content,
        "run logs": "\n".join(runtime.logs(run_id)).encode(),
    }
    for log in sorted(local_flower.workdir.glob("supernode-*/process.log")):
        places[str(log.relative_to(local_flower.workdir))] = log.read_bytes()
    places["superlink/process.log"] = (local_flower.workdir / "superlink/process.log").read_bytes()
    pids = local_flower.supernode_processes()
    assert pids, "the SuperNodes are running"
    for pid in pids:
        try:
            places[f"environment of SuperNode-side process {pid}"] = Path(
                f"/proc/{pid}/environ"
            ).read_bytes()
        except OSError:
            continue  # it ended meanwhile
    env_names = {
        line.split(b"=", 1)[0]
        for name, text in places.items()
        if name.startswith("environment")
        for line in text.split(b"\0")
    }

    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, s in secrets.items()
        if s in text
    ]
    assert leaks == []
    assert not env_names & {b"THUNDERLINE_PROGRESS_KEY", b"THUNDERLINE_PROGRESS_KEY_FILE"}
    assert len([p for p in places if p.startswith("environment")]) >= 3
