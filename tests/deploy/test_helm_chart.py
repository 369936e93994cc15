"""The Helm chart, rendered by Helm's own engine: valid Kubernetes objects for every toggle,
refusals for values that cannot work, and the wiring between its parts (command lines
parsed by the real parsers, probes, Secrets, Services, policies)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.artefacts import (
    CHART,
    KUBE_VERSION,
    REQUIRED,
    container,
    env_of,
    find,
    merged,
    node_config,
    pod_specs,
    reconciler_args,
    render,
    superlink_args,
    supernode_args,
    validate_k8s,
)

EVERYTHING = {
    "postgresql": {"enabled": True},
    "minio": {"enabled": True},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "otel": {"endpoint": "http://otel.observability:4318"},
    "reconciler": {"prune": True, "statusBranch": "fl-status", "podAnnotations": {"a": "b"}},
    "superlink": {"persistence": {"enabled": False}},
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}},
}
VARIANTS = {
    "defaults": {},
    "everything": EVERYTHING,
    "existing-secret": {"existingSecret": "mine", "secrets": {"databaseUrl": ""}},
    "external-flower": {"superlink": {"enabled": False}, "reconciler": {"superlink": "fl:8000"}},
    "single-replica": {"reconciler": {"replicaCount": 1, "leaderElection": False}},
    "flower-plaintext": {"flower": {"tls": {"enabled": False}}},
    "flower-cert-manager": {
        "flower": {
            "tls": {
                "existingSecret": "",
                "certManager": {"enabled": True, "issuerRef": {"name": "ca"}},
            }
        }
    },
}
FULL = "tl-thunderline-reconciler"


def render_error(values: dict[str, Any]) -> str:
    import helm_python as helm

    with pytest.raises(helm.HelmError) as caught:
        render(values)
    return str(caught.value)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_renders_valid_kubernetes_objects(variant: str) -> None:
    objs = render(VARIANTS[variant])

    assert objs
    assert validate_k8s(objs) == []


def test_helm_lint_strict_finds_nothing_beyond_the_missing_icon() -> None:
    import helm_python as helm

    report = helm.lint(
        str(CHART), merged(REQUIRED, EVERYTHING), strict=True, kube_version=f"v{KUBE_VERSION}"
    )

    assert report["errors"] == []
    assert [m["error"] for m in report["messages"] if "icon" not in m["error"]] == []


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"reconciler": {"repo": ""}}, "reconciler.repo"),
        ({"secrets": {"databaseUrl": ""}}, "secrets.databaseUrl"),
        ({"reconciler": {"replicaCount": 3, "leaderElection": False}}, "leaderElection"),
        ({"superlink": {"enabled": False}}, "reconciler.superlink"),
        ({"reconciler": {"replicas": 2}}, "replicas"),  # a typo: the values schema refuses it
        ({"reconciler": {"interval": "soon"}}, "interval"),
    ],
)
def test_values_that_cannot_work_are_refused_with_the_key_named(
    values: dict[str, Any], says: str
) -> None:
    assert says in render_error(values)


def test_reconciler_command_line_parses_and_points_at_this_release() -> None:
    objs = render({})
    deployment = find(objs, "Deployment", FULL)
    c = container(deployment)

    args = reconciler_args(c["args"])

    assert (args.command, args.repo, args.s3) == ("run", REQUIRED["reconciler"]["repo"], True)
    service = find(objs, "Service", f"{FULL}-superlink")
    assert args.superlink == f"{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    own = find(objs, "Service", FULL)
    assert args.public_url == f"http://{FULL}.fl.svc:{own['spec']['ports'][0]['port']}"
    assert args.host == "0.0.0.0"
    assert c["ports"][0] == {"name": "http", "containerPort": args.port, "protocol": "TCP"}
    assert (args.prune, args.no_leader_election, args.status_branch) == (False, False, None)


def test_toggles_reach_the_command_line() -> None:
    on = reconciler_args(container(find(render(EVERYTHING), "Deployment"))["args"])
    single = reconciler_args(
        container(find(render(VARIANTS["single-replica"]), "Deployment"))["args"]
    )
    off = reconciler_args(
        container(find(render({"reconciler": {"statusReports": False}}), "Deployment"))["args"]
    )

    assert (on.prune, on.status_branch) == (True, "fl-status")
    assert single.no_leader_election and not on.no_leader_election
    assert off.no_status and not on.no_status


def test_probes_use_healthz_for_liveness_and_readyz_for_readiness() -> None:
    c = container(find(render({}), "Deployment"))

    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_replicas_share_one_progress_secret_and_lead_by_election() -> None:
    objs = render({})
    deployment = find(objs, "Deployment")
    secret = find(objs, "Secret")
    ref = env_of(container(deployment))["THUNDERLINE_PROGRESS_SECRET"]["valueFrom"]["secretKeyRef"]

    assert deployment["spec"]["replicas"] == 2
    assert ref == {
        "name": secret["metadata"]["name"],
        "key": "THUNDERLINE_PROGRESS_SECRET",
        "optional": False,
    }
    assert len(secret["data"]["THUNDERLINE_PROGRESS_SECRET"]) >= 32
    assert find(objs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def secret_keys_of(pod: dict[str, Any]) -> set[str]:
    """Every key of a Secret a pod can read: env refs, envFrom (all keys) and volumes."""
    keys: set[str] = set()
    for c in pod["spec"]["containers"]:
        for e in c.get("env", []):
            if ref := e.get("valueFrom", {}).get("secretKeyRef"):
                keys.add(ref["key"])
        for source in c.get("envFrom", []):
            if "secretRef" in source:
                keys.add("*")  # every key of that Secret
    for volume in pod["spec"].get("volumes", []):
        if "secret" in volume:
            items = volume["secret"].get("items")
            keys |= {i["key"] for i in items} if items else {"*"}
    return keys


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_only_the_superlink_pod_holds_the_progress_key(variant: str) -> None:
    """The ServerApps (in the SuperLink pod) derive report tokens from the key; a SuperNode's
    ClientApp must not be able to, so no SuperNode pod can read that Secret key."""
    objs = render(VARIANTS[variant])
    workloads = {w["metadata"]["name"]: (w, pod) for w, pod in pod_specs(objs)}

    supernodes = [w for name, w in workloads.items() if name.endswith("-supernode")]
    for workload, pod in supernodes:
        keys = secret_keys_of(pod)
        assert "THUNDERLINE_PROGRESS_SECRET" not in keys and "*" not in keys
        env = env_of(container(workload))
        assert not {"THUNDERLINE_PROGRESS_KEY", "THUNDERLINE_PROGRESS_KEY_FILE"} & set(env)
    superlinks = [w for name, w in workloads.items() if name.endswith("-superlink")]
    if VARIANTS[variant].get("superlink", {}).get("enabled") is False:
        assert superlinks == [] and supernodes == []
        return
    assert len(supernodes) == 1
    ((workload, pod),) = superlinks
    c = container(workload)
    path = env_of(c)["THUNDERLINE_PROGRESS_KEY_FILE"]["value"]
    (volume,) = [v for v in pod["spec"]["volumes"] if "secret" in v and v["name"] != "flower-tls"]
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    assert volume["secret"]["items"] == [{"key": "THUNDERLINE_PROGRESS_SECRET", "path": "key"}]
    assert volume["secret"]["secretName"] == ("mine" if variant == "existing-secret" else FULL)
    assert path == f"{mount['mountPath']}/key" and mount["readOnly"] is True
    assert "THUNDERLINE_PROGRESS_SECRET" not in env_of(c)  # a file, not an environment value


@pytest.mark.parametrize("variant", ["defaults", "everything"])
def test_every_required_secret_key_exists_in_the_chart_secret(variant: str) -> None:
    objs = render(VARIANTS[variant])
    secret = find(objs, "Secret")
    required = {
        ref["key"]
        for _, pod in pod_specs(objs)
        for c in pod["spec"]["containers"]
        for e in c.get("env", [])
        if (ref := e.get("valueFrom", {}).get("secretKeyRef")) and not ref.get("optional")
    }

    assert required <= set(secret["data"]), required - set(secret["data"])


def test_an_existing_secret_replaces_the_chart_secret_everywhere() -> None:
    objs = render(VARIANTS["existing-secret"])
    names = {
        ref["name"]
        for _, pod in pod_specs(objs)
        for c in pod["spec"]["containers"]
        for e in c.get("env", [])
        if (ref := e.get("valueFrom", {}).get("secretKeyRef"))
    }

    assert [o for o in objs if o["kind"] == "Secret"] == []
    assert names == {"mine"}


def test_no_secret_value_appears_outside_the_secret() -> None:
    values = {"secrets": {"gitToken": "ghp_tokenvalue1", "webhookSecret": "hook-secret-2"}}
    objs = render(values)
    outside = str([o for o in objs if o["kind"] != "Secret"])

    for value in ("ghp_tokenvalue1", "hook-secret-2", "pw@db.example"):
        assert value not in outside


def test_every_pod_runs_as_non_root_with_a_read_only_root() -> None:
    objs = render(EVERYTHING)

    for workload, pod in pod_specs(objs):
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert "limits" in c.get("resources", {"limits": 1}), c["name"]


def test_superlink_and_supernodes_command_lines_parse_and_agree() -> None:
    objs = render({"supernode": {"replicaCount": 5, "extraNodeConfig": "region=eu"}})
    link_set = find(objs, "StatefulSet", f"{FULL}-superlink")
    link_c = container(link_set)
    node_set = find(objs, "StatefulSet", f"{FULL}-supernode")
    node_c = container(node_set)
    service = find(objs, "Service", f"{FULL}-superlink")

    assert link_c["command"][-1] == "flower-superlink"
    link = superlink_args(link_c["args"])
    node = supernode_args(node_c["args"])
    assert link.database == "/state/state.db"
    assert link.runtime_dependency_install is False
    assert (
        link_c["ports"][0]["containerPort"] == int(link.port) == service["spec"]["ports"][0]["port"]
    )
    assert node.superlink == f"{FULL}-superlink:{link.port}"
    assert node_set["spec"]["replicas"] == 5
    assert node_config(node.node_config) == {
        "partition-id": "$(PARTITION_ID)",
        "num-partitions": "5",
        "region": "eu",
    }
    index = env_of(node_c)["PARTITION_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == "metadata.labels['apps.kubernetes.io/pod-index']"
    assert node_c["livenessProbe"]["grpc"]["port"] == int(
        node.health_server_address.rsplit(":", 1)[1]
    )


def test_services_select_pods_and_name_ports_that_exist() -> None:
    objs = render(EVERYTHING)
    pods = [pod for _, pod in pod_specs(objs)]

    for service in (o for o in objs if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        matching = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
        assert matching, service["metadata"]["name"]
        port_names = {
            p["name"]
            for pod in matching
            for c in pod["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (service["metadata"]["name"], port)


def test_the_network_policy_admits_only_the_reconciler_and_supernodes_to_the_superlink() -> None:
    objs = render({})
    policy = find(objs, "NetworkPolicy")
    link_pod = find(objs, "StatefulSet", f"{FULL}-superlink")["spec"]["template"]
    allowed = [peer["podSelector"]["matchLabels"] for peer in policy["spec"]["ingress"][0]["from"]]
    admitted = {
        o["metadata"]["name"]
        for o, pod in pod_specs(objs)
        if any(sel.items() <= pod["metadata"]["labels"].items() for sel in allowed)
    }

    assert (
        policy["spec"]["podSelector"]["matchLabels"].items()
        <= link_pod["metadata"]["labels"].items()
    )
    assert admitted == {FULL, f"{FULL}-supernode"}


def test_the_service_monitor_scrapes_the_reconciler_metrics_port() -> None:
    objs = render(EVERYTHING)
    monitor = find(objs, "ServiceMonitor")
    service = find(objs, "Service", FULL)

    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert [o for o in render({}) if o["kind"] == "ServiceMonitor"] == []


def test_the_evaluation_database_and_object_store_are_wired_in() -> None:
    objs = render(EVERYTHING)
    env = env_of(container(find(objs, "Deployment")))
    pg = env_of(container(find(objs, "StatefulSet", f"{FULL}-postgresql")))
    names = [e for e in env]

    url = env["DATABASE_URL"]["value"]
    user, db = pg["POSTGRES_USER"]["value"], pg["POSTGRES_DB"]["value"]
    assert url == f"postgresql://{user}:$(POSTGRES_PASSWORD)@{FULL}-postgresql:5432/{db}"
    # Kubernetes expands $(VAR) only from variables defined earlier in the list.
    assert names.index("POSTGRES_PASSWORD") < names.index("DATABASE_URL")
    for workload in (find(objs, "Deployment"), find(objs, "StatefulSet", f"{FULL}-supernode")):
        s3 = env_of(container(workload))
        assert s3["AWS_ENDPOINT_URL"]["value"] == f"http://{FULL}-minio:9000"
        assert s3["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["key"] == "MINIO_ROOT_USER"
    job = find(objs, "Job")
    assert (
        "mc mb --ignore-existing" in job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    )
    assert "fl-checkpoints" in job["spec"]["template"]["spec"]["containers"][0]["command"][-1]


def test_the_otlp_endpoint_reaches_the_reconciler_and_the_server_app() -> None:
    objs = render(EVERYTHING)

    for workload in (find(objs, "Deployment"), find(objs, "StatefulSet", f"{FULL}-superlink")):
        env = env_of(container(workload))
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel.observability:4318"
        assert env["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(container(find(render({}), "Deployment")))
