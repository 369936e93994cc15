"""TLS to Flower in the Helm chart: the SuperLink serves the certificate of an existing
Secret or of a cert-manager Certificate the chart renders, SuperNodes and the reconciler
trust its CA (and mount nothing else of it), plaintext only when `flower.tls.enabled` is
false, and settings that cannot work are refused naming the value to set. Command lines are
parsed by Flower's and the reconciler's own parsers."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest

from reconciler.runtime.tls import choose_transport, host_of
from tests.deploy.artefacts import (
    FLOWER_TLS_SECRET,
    container,
    find,
    pod_specs,
    reconciler_args,
    render,
    superlink_args,
    supernode_args,
)
from tests.deploy.test_helm_chart import FULL, VARIANTS, render_error

CERT_MANAGER = VARIANTS["flower-cert-manager"]
PLAINTEXT = VARIANTS["flower-plaintext"]
TLS_MODES = {
    "existing-secret": ({}, FLOWER_TLS_SECRET),
    "cert-manager": (CERT_MANAGER, f"{FULL}-flower-tls"),
}


def tls_volume(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((v for v in pod["spec"]["volumes"] if v["name"] == "flower-tls"), None)


def mounted(c: dict[str, Any], key: str) -> str:
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "flower-tls"]
    assert mount["readOnly"] is True
    return str(PurePosixPath(mount["mountPath"]) / key)


def workloads(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        "superlink": find(objs, "StatefulSet", f"{FULL}-superlink"),
        "supernode": find(objs, "StatefulSet", f"{FULL}-supernode"),
        "reconciler": find(objs, "Deployment", FULL),
    }


@pytest.mark.parametrize("mode", sorted(TLS_MODES))
def test_the_superlink_serves_tls_and_its_clients_trust_the_ca(mode: str) -> None:
    values, secret = TLS_MODES[mode]
    w = workloads(render(values))
    link_c, node_c, daemon_c = (container(w[n]) for n in ("superlink", "supernode", "reconciler"))

    link = superlink_args(link_c["args"])
    node = supernode_args(node_c["args"])
    daemon = reconciler_args(daemon_c["args"])

    assert not link.insecure and not node.insecure and not daemon.flower_insecure
    assert (link.ssl_ca_certfile, link.ssl_certfile, link.ssl_keyfile) == tuple(
        mounted(link_c, key) for key in ("ca.crt", "tls.crt", "tls.key")
    )
    assert node.root_certificates == mounted(node_c, "ca.crt")
    assert str(daemon.flower_ca_file) == mounted(daemon_c, "ca.crt")
    for workload in w.values():
        volume = tls_volume(workload["spec"]["template"])
        assert volume is not None and volume["secret"]["secretName"] == secret


def test_only_the_superlink_mounts_the_private_key() -> None:
    objs = render({})
    holders = {
        workload["metadata"]["name"]
        for workload, pod in pod_specs(objs)
        if (volume := tls_volume(pod))
        and "tls.key" in {i["key"] for i in volume["secret"]["items"]}
    }
    clients = [workloads(objs)[n]["spec"]["template"] for n in ("supernode", "reconciler")]

    assert holders == {f"{FULL}-superlink"}
    for pod in clients:
        assert tls_volume(pod)["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]  # type: ignore[index]


def test_the_superlink_probes_speak_https_with_tls_and_http_without() -> None:
    for values, scheme in (({}, "HTTPS"), (PLAINTEXT, "HTTP")):
        c = container(workloads(render(values))["superlink"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"]["scheme"] == scheme, (scheme, probe)


def test_the_certificate_names_every_address_its_clients_dial() -> None:
    objs = render(CERT_MANAGER)
    cert = find(objs, "Certificate", f"{FULL}-superlink")["spec"]
    w = workloads(objs)
    dialled = {
        host_of(reconciler_args(container(w["reconciler"])["args"]).superlink),
        host_of(supernode_args(container(w["supernode"])["args"]).superlink),
    }

    assert (
        cert["secretName"] == tls_volume(w["superlink"]["spec"]["template"])["secret"]["secretName"]
    )  # type: ignore[index]
    assert cert["issuerRef"] == {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"}
    assert dialled <= set(cert["dnsNames"])
    assert f"{FULL}-superlink.fl.svc" in cert["dnsNames"]
    # The SuperLink's own SuperExec and ServerApps dial its bind address on loopback.
    assert cert["ipAddresses"] == ["127.0.0.1"]
    assert "server auth" in cert["usages"]
    assert [o for o in render({}) if o["kind"] == "Certificate"] == []


def test_plaintext_only_when_asked_for_and_then_everywhere() -> None:
    objs = render(PLAINTEXT)
    w = workloads(objs)

    assert superlink_args(container(w["superlink"])["args"]).insecure
    assert supernode_args(container(w["supernode"])["args"]).insecure
    daemon = reconciler_args(container(w["reconciler"])["args"])
    assert daemon.flower_insecure and daemon.flower_ca_file is None
    assert all(tls_volume(pod) is None for _, pod in pod_specs(objs))
    assert [o for o in objs if o["kind"] == "Certificate"] == []


def test_an_external_superlink_is_reached_over_tls_by_default() -> None:
    external = {"superlink": {"enabled": False}, "reconciler": {"superlink": "fl.example:8000"}}
    trusted_by_default = {**external, "flower": {"tls": {"existingSecret": ""}}}

    with_ca = reconciler_args(container(find(render(external), "Deployment"))["args"])
    default_cas = reconciler_args(container(find(render(trusted_by_default), "Deployment"))["args"])

    assert with_ca.flower_ca_file is not None and not with_ca.flower_insecure
    assert (default_cas.flower_ca_file, default_cas.flower_insecure) == (None, False)
    transport = choose_transport("fl.example:8000", ca_file=None, insecure=False)
    assert not transport.insecure  # what the daemon then chooses for a remote address


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"flower": {"tls": {"existingSecret": ""}}}, "flower.tls.existingSecret"),
        (
            {"flower": {"tls": {"certManager": {"enabled": True, "issuerRef": {"name": "ca"}}}}},
            "not both",
        ),
        (
            {"flower": {"tls": {"existingSecret": "", "certManager": {"enabled": True}}}},
            "flower.tls.certManager.issuerRef.name",
        ),
        (
            {
                **CERT_MANAGER,
                "superlink": {"enabled": False},
                "reconciler": {"superlink": "fl.example:8000"},
            },
            "superlink.enabled false",
        ),
        (
            {"flower": {"tls": {"certManager": {"issuerRef": {"kind": "Vault"}}}}},
            "kind",
        ),
    ],
)
def test_tls_settings_that_cannot_work_are_refused_naming_the_value(
    values: dict[str, Any], says: str
) -> None:
    assert says in render_error(values)
