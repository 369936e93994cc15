"""deploy/compose.yaml: valid against the Compose specification, and wired together: every
address, credential, port and path one service uses is what the other service offers.
Command lines are parsed with the real `reconciler` and Flower parsers."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import jsonschema
import yaml

from reconciler.settings import SourceSettings
from tests.deploy.artefacts import (
    COMPOSE,
    DEPLOY,
    ROOT,
    compose,
    final_stage,
    node_config,
    reconciler_args,
    superlink_args,
    supernode_args,
)


def services() -> dict[str, dict]:  # type: ignore[type-arg]
    return compose()["services"]  # type: ignore[no-any-return]


def command(name: str) -> list[str]:
    return services()[name]["command"]  # type: ignore[no-any-return]


def compose_spec_errors(document: object) -> list[str]:
    """Problems by the Compose specification's own JSON Schema (vendored by check-jsonschema)."""
    from importlib.resources import files

    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_file_follows_the_compose_specification() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    broken = copy.deepcopy(raw)
    broken["services"]["reconciler"]["depends_on"]["postgres"]["condition"] = "service_ready"

    assert compose_spec_errors(raw) == []
    assert len(compose_spec_errors(broken)) >= 1


def test_the_issue_lists_services_are_all_there() -> None:
    names = set(services())

    assert {"postgres", "minio", "superlink", "reconciler", "prometheus", "otel-collector"} <= names
    assert len([n for n in names if n.startswith("supernode-")]) == 3


def test_dependencies_name_existing_services_and_volumes_are_declared() -> None:
    declared_volumes = set(compose()["volumes"])

    for name, service in services().items():
        for dep in service.get("depends_on", []):
            assert dep in services(), (name, dep)
        for mount in service.get("volumes", []):
            source = mount["source"] if isinstance(mount, dict) else mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in declared_volumes, (name, source)


def test_the_reconciler_command_parses_and_reaches_the_superlink() -> None:
    args = reconciler_args(command("reconciler"))
    link = superlink_args(command("superlink"))

    assert args.command == "run" and args.s3
    host, port = args.superlink.split(":")
    assert host == "superlink" and int(port) == link.port
    assert link.insecure and link.runtime_dependency_install is False
    # A plaintext SuperLink off loopback is reached only when the daemon is told to.
    assert args.flower_insecure and args.flower_ca_file is None
    assert services()["superlink"]["entrypoint"] == ["flower-superlink"]


def test_the_server_app_reaches_the_reconciler_at_its_public_url() -> None:
    args = reconciler_args(command("reconciler"))
    url = urlsplit(args.public_url)

    assert (url.hostname, url.port) == ("reconciler", args.port)
    assert args.host == "0.0.0.0"
    assert f"127.0.0.1:{args.port}:{args.port}" in services()["reconciler"]["ports"]


def test_supernodes_cover_every_partition_once() -> None:
    nodes = [supernode_args(command(n)) for n in sorted(services()) if n.startswith("supernode-")]
    configs = [node_config(n.node_config) for n in nodes]

    assert {n.superlink for n in nodes} == {
        f"superlink:{superlink_args(command('superlink')).port}"
    }
    assert sorted(int(c["partition-id"]) for c in configs) == list(range(len(nodes)))
    assert {c["num-partitions"] for c in configs} == {str(len(nodes))}


def test_the_database_url_matches_the_postgres_service() -> None:
    url = urlsplit(services()["reconciler"]["environment"]["DATABASE_URL"])
    pg = services()["postgres"]["environment"]

    assert (url.hostname, url.port) == ("postgres", 5432)
    assert (url.username, url.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
    assert url.path == "/" + pg["POSTGRES_DB"]


def test_s3_settings_match_the_minio_service_everywhere_checkpoints_are_touched() -> None:
    minio = services()["minio"]["environment"]

    for name in ("reconciler", "superlink", "supernode-0"):
        env = services()[name]["environment"]
        assert urlsplit(env["AWS_ENDPOINT_URL"]).hostname == "minio", name
        assert env["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    # the bucket the example specs write to
    spec = yaml.safe_load((ROOT / "specs" / "acme" / "digits-fedavg.yaml").read_text())
    bucket = urlsplit(spec["spec"]["artifacts"]["outputBucket"]).hostname
    assert f"local/{bucket}" in services()["minio-buckets"]["command"][0]


def test_traces_go_to_the_collectors_otlp_http_receiver() -> None:
    collector = yaml.safe_load((DEPLOY / "compose" / "otel-collector.yaml").read_text())
    receiver = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    pipelines = collector["service"]["pipelines"]

    for name in ("reconciler", "superlink"):
        url = urlsplit(services()[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert (url.hostname, str(url.port)) == ("otel-collector", receiver.rsplit(":", 1)[1])
    for pipeline in pipelines.values():
        assert set(pipeline["receivers"]) <= set(collector["receivers"])
        assert set(pipeline["exporters"]) <= set(collector["exporters"])
    mount = services()["otel-collector"]["volumes"][0].split(":")
    assert services()["otel-collector"]["command"] == [f"--config={mount[1]}"]


def test_prometheus_scrapes_the_reconciler_and_grafana_reads_prometheus() -> None:
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    port = reconciler_args(command("reconciler")).port
    provisioning = DEPLOY / "compose" / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    dashboards = yaml.safe_load((provisioning / "dashboards" / "thunderline.yaml").read_text())
    grafana_mounts = dict(m.split(":")[:2] for m in services()["grafana"]["volumes"])

    targets = [
        t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    ]
    assert targets == [f"reconciler:{port}"]
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert grafana_mounts["./grafana"] == dashboards["providers"][0]["options"]["path"]
    assert list((DEPLOY / "grafana").glob("*.json"))


def test_flower_containers_see_the_reconcilers_checkout_at_the_same_path() -> None:
    workdir = PurePosixPath(next(arg for op, arg in final_stage() if op == "WORKDIR"))
    checkout = workdir / SourceSettings(repo="x").workdir.as_posix()
    state_mount = next(
        m for m in services()["reconciler"]["volumes"] if m.startswith("reconciler-state:")
    )

    assert PurePosixPath(state_mount.split(":")[1]) / "source" == checkout
    for name in ("superlink", "supernode-0", "supernode-1", "supernode-2"):
        shared = [m for m in services()[name]["volumes"] if isinstance(m, dict)]
        assert shared == [
            {
                "type": "volume",
                "source": "reconciler-state",
                "target": str(checkout),
                "read_only": True,
                "volume": {"subpath": "source"},
            }
        ], name


def test_the_seed_service_builds_a_spec_repository_the_daemon_can_read(tmp_path: Path) -> None:
    seed = services()["spec-seed"]
    state = tmp_path / "state"
    env = {
        **os.environ,
        "SEED_FROM": str(ROOT),
        "SEED_TO": str(state / "seed"),
        "SOURCE_DIR": str(state / "source"),
    }
    run = [sys.executable, *seed["entrypoint"][1:], *seed["command"]]

    first = subprocess.run(run, env=env, capture_output=True, text=True, check=False, timeout=60)
    again = subprocess.run(run, env=env, capture_output=True, text=True, check=False, timeout=60)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0 and again.stdout == ""  # a second start keeps the repository
    assert (state / "source").is_dir()
    remote = state / "seed" / "remote.git"
    listed = subprocess.run(
        ["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", "main"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "specs/acme/digits-fedavg.yaml" in listed
    assert "models/digits-logreg-init.npz" in listed
    assert seed["entrypoint"][0] == "python"
    assert reconciler_args(command("reconciler")).repo == str(
        PurePosixPath(seed["environment"]["SEED_TO"]) / "remote.git"
    )


def test_the_progress_key_reaches_the_reconciler_and_the_superlink_only(tmp_path: Path) -> None:
    """The SuperLink's ServerApps derive report tokens from the key; no SuperNode may."""
    key_service = services()["progress-key"]
    key_file = key_service["environment"]["KEY_FILE"]
    folder = str(PurePosixPath(key_file).parent)
    holders = {
        name
        for name, service in services().items()
        for mount in service.get("volumes", [])
        if isinstance(mount, str) and mount.split(":")[0] == "progress-key"
    }

    assert holders == {"progress-key", "reconciler", "superlink"}
    assert f"progress-key:{folder}:ro" in services()["superlink"]["volumes"]
    assert reconciler_args(command("reconciler")).progress_key_file == Path(key_file)
    assert services()["superlink"]["environment"]["THUNDERLINE_PROGRESS_KEY_FILE"] == key_file
    for name in ("reconciler", "superlink"):
        assert services()[name]["depends_on"]["progress-key"] == {
            "condition": "service_completed_successfully"
        }
    for name in (n for n in services() if n.startswith("supernode-")):
        env = services()[name].get("environment", {})
        assert not {k for k in env if "PROGRESS" in k}, name
    # The one-shot writes a key once and keeps it; a given THUNDERLINE_PROGRESS_SECRET wins.
    run = [sys.executable, *key_service["entrypoint"][1:], *key_service["command"]]
    target = tmp_path / "key" / "key"
    env = {**os.environ, "KEY_FILE": str(target), "THUNDERLINE_PROGRESS_SECRET": ""}
    subprocess.run(run, env=env, check=True, timeout=60, capture_output=True)
    made = target.read_text()
    subprocess.run(run, env=env, check=True, timeout=60, capture_output=True)
    assert target.read_text() == made and len(made) == 64
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    given = {**env, "THUNDERLINE_PROGRESS_SECRET": "operator-chosen-key-0123"}
    subprocess.run(run, env=given, check=True, timeout=60, capture_output=True)
    assert target.read_text() == "operator-chosen-key-0123"
