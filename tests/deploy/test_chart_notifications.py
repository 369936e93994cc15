"""The chart's `notifications` value becomes the daemon's notifications file: a ConfigMap the
daemon's own loader accepts, mounted read-only and named by THUNDERLINE_NOTIFICATIONS, each
variable it names taken from the existing Secret; no services, no file."""

from __future__ import annotations

import pytest

from reconciler.cli.common import NOTIFICATIONS_ENV
from reconciler.notify.config import parse_notifications
from tests.deploy.artefacts import container, env_of, find, render, validate_k8s

FULL = "tl-thunderline-reconciler"
NOTIFICATIONS = {
    "services": {
        "ops": {"type": "webhook", "urlEnv": "OPS_WEBHOOK_URL", "signingKeyEnv": "OPS_KEY"},
        "forge": {"type": "github", "repository": "okocorp/fl-specs", "tokenEnv": "GH_TOKEN"},
        "tracking": {"type": "mlflow", "trackingUri": "http://mlflow.mlops:5000"},
    },
    "subscriptions": [{"services": ["ops"], "events": ["completed", "stalled", "invalid"]}],
    "stalledAfter": "15m",
    "existingSecret": "thunderline-notify",
}
VARIABLES = ("GH_TOKEN", "OPS_KEY", "OPS_WEBHOOK_URL")


def test_the_notifications_value_is_a_file_the_daemon_reads_with_secrets_by_reference() -> None:
    objs = render({"notifications": NOTIFICATIONS})
    assert validate_k8s(objs) == []
    text = find(objs, "ConfigMap", f"{FULL}-notifications")["data"]["notifications.yaml"]
    config = parse_notifications(text.encode(), "notifications.yaml", dict.fromkeys(VARIABLES, "x"))
    assert [s.name for s in config.services] == ["forge", "ops", "tracking"]
    assert config.stalled_after == 900.0 and config.wants("stalled")
    deployment = find(objs, "Deployment", FULL)
    daemon = container(deployment, "reconciler")
    env = {e["name"]: e for e in daemon["env"]}
    assert env[NOTIFICATIONS_ENV]["value"] == "/etc/thunderline/notifications/notifications.yaml"
    for name in VARIABLES:
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "thunderline-notify", "key": name}
    mounts = {m["name"]: m for m in daemon["volumeMounts"]}
    assert mounts["notifications"]["mountPath"] == "/etc/thunderline/notifications"
    assert mounts["notifications"]["readOnly"] is True
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["notifications"]["configMap"]["name"] == f"{FULL}-notifications"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/notifications" in annotations  # a changed file rolls the daemon


def test_without_services_there_is_no_file_and_no_variable() -> None:
    objs = render({})
    assert not [o for o in objs if o["metadata"]["name"].endswith("-notifications")]
    daemon = container(find(objs, "Deployment", FULL), "reconciler")
    assert NOTIFICATIONS_ENV not in env_of(daemon)


def test_variables_without_a_secret_to_take_them_from_are_refused() -> None:
    import helm_python as helm

    values = {**NOTIFICATIONS, "existingSecret": ""}
    with pytest.raises(helm.HelmError, match=r"notifications\.existingSecret"):
        render({"notifications": values})
