"""The chart's `policy` value becomes the daemon's --policy file: a ConfigMap the daemon's own
loader accepts, mounted read-only, and the flag on its command line; no value, no file (the
daemon's safe default)."""

from __future__ import annotations

import pytest

from reconciler.specs.policy import TenantRules
from reconciler.specs.policyfile import parse_policy
from tests.deploy.artefacts import container, find, reconciler_args, render, validate_k8s

FULL = "tl-thunderline-reconciler"
POLICY = {
    "defaults": {"maxRounds": 50},
    "tenants": {"acme": {"ownApps": True, "read": ["s3://shared/public/"]}},
}


def test_a_policy_value_is_mounted_and_passed_to_the_daemon() -> None:
    objs = render({"policy": POLICY})
    assert validate_k8s(objs) == []
    text = find(objs, "ConfigMap", f"{FULL}-policy")["data"]["policy.yaml"]
    policy = parse_policy(text.encode(), "policy.yaml")
    assert policy.defaults == TenantRules(max_rounds=50)
    assert policy.rules_for("acme") == TenantRules(
        read=("s3://shared/public/",), own_apps=True, max_rounds=50
    )
    deployment = find(objs, "Deployment", FULL)
    daemon = container(deployment, "reconciler")
    args = reconciler_args(daemon["args"])
    assert str(args.policy) == "/etc/thunderline/policy/policy.yaml"
    mounts = {m["name"]: m for m in daemon["volumeMounts"]}
    assert mounts["policy"]["mountPath"] == "/etc/thunderline/policy"
    assert mounts["policy"]["readOnly"] is True
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/policy" in annotations  # a changed policy rolls the daemon


def test_without_a_policy_value_there_is_no_file_and_the_default_holds() -> None:
    objs = render({})
    assert not [
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-policy")
    ]
    daemon = container(find(objs, "Deployment", FULL), "reconciler")
    assert "--policy" not in daemon["args"]


def test_a_policy_value_outside_the_schema_is_refused() -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match="ownApp"):
        render({"policy": {"tenants": {"acme": {"ownApp": True}}}})
