"""deploy/kubernetes/thunderline.yaml: the chart rendered with deploy/kubernetes/values.yaml,
kept in sync with it, and valid against the Kubernetes API schemas."""

from __future__ import annotations

import copy

from tests.deploy.artefacts import DEPLOY, objects_of, render_module, validate_k8s

PLAIN = DEPLOY / "kubernetes" / "thunderline.yaml"


def test_the_committed_manifests_are_a_fresh_render_of_the_chart() -> None:
    assert PLAIN.read_text() == render_module().expected(), (
        "deploy/kubernetes/thunderline.yaml is stale: run python deploy/kubernetes/render.py"
    )


def test_the_plain_manifests_are_valid_kubernetes_objects() -> None:
    objs = objects_of(PLAIN.read_text())

    assert {o["kind"] for o in objs} >= {"Deployment", "StatefulSet", "Service", "NetworkPolicy"}
    assert validate_k8s(objs) == []
    assert validate_k8s(objs, "1.33.0") == []


def test_the_schema_check_catches_a_broken_object() -> None:
    deployment = next(o for o in objects_of(PLAIN.read_text()) if o["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = []
    typo = copy.deepcopy(deployment)
    typo["spec"]["replica"] = 2

    assert len(validate_k8s([broken])) == 1
    assert len(validate_k8s([typo])) == 1


def test_the_plain_manifests_hold_no_secret_material() -> None:
    objs = objects_of(PLAIN.read_text())

    assert [o for o in objs if o["kind"] == "Secret"] == []  # you create it (docs/deploy.md)
    refs = {
        ref["name"]
        for o in objs
        if "template" in o.get("spec", {})
        for c in o["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
        if (ref := e.get("valueFrom", {}).get("secretKeyRef"))
    }
    assert refs == {"thunderline"}
