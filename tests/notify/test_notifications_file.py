"""The notifications file: what a valid one becomes, and located errors for broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.notify import NotificationsInvalid, load_notifications
from reconciler.notify.config import parse_notifications

ENV = {"OPS_URL": "https://hooks.example/secret-path-canary", "OPS_KEY": "canary-signing-key"}
GOOD = """\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
services:
  ops:
    type: webhook
    urlEnv: OPS_URL
    signingKeyEnv: OPS_KEY
  forge:
    type: github
    repository: okocorp/fl-specs
    tokenEnv: OPS_KEY
    reportUrl: https://github.com/okocorp/fl-specs/blob/{revision}/status/{tenant}/{name}.md
subscriptions:
  - services: [ops]
    events: [completed, failed]
    tenants: [acme]
    labels: {team: nlp}
    thresholds:
      - metric: accuracy
        above: 0.9
"""


def problems(text: str, env: dict[str, str] = ENV) -> list[str]:
    with pytest.raises(NotificationsInvalid) as caught:
        parse_notifications(text.encode(), "deploy/notifications.yaml", env)
    return [str(p) for p in caught.value.problems]


def test_a_valid_file_becomes_services_and_subscriptions() -> None:
    config = parse_notifications(GOOD.encode(), "n.yaml", ENV)

    assert [(s.name, s.kind) for s in config.services] == [("ops", "webhook"), ("forge", "github")]
    forge = config.services[1]
    assert forge.api_url == "https://api.github.com"
    assert forge.context == "thunderline/{tenant}/{name}"
    (sub,) = config.subscriptions_of("ops")
    assert sub.events == {"completed", "failed"}
    assert sub.tenants == {"acme"} and sub.labels == {"team": "nlp"}
    assert [str(t) for t in sub.thresholds] == ["accuracy > 0.9"]
    assert config.subscriptions_of("forge") == ()


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            GOOD.replace("events: [completed, failed]", "events: [completed, finished]"),
            "notifications.yaml:15:25: subscriptions[0].events[1]: must be one of",
        ),
        (GOOD.replace("services: [ops]", "services: [opps]"), "notifications.yaml:14:16: subscriptions[0].services[0]: no service"),
        (GOOD.replace("    type: github\n", "    type: gitea\n"), "notifications.yaml:9:11: services.forge.type: must be one of"),
        (GOOD.replace("{revision}", "{sha}"), "notifications.yaml:12:16: services.forge.reportUrl: unknown placeholder {sha}"),
        (GOOD.replace("        above: 0.9\n", ""), "notifications.yaml:19:9: subscriptions[0].thresholds[0]: give exactly one"),
        (GOOD.replace("  ops:\n", "  ops:\n    url: https://x.example/\n"), "notifications.yaml:5:5: services.ops.url: unknown field"),
        (GOOD + "  - oops: [\n", "notifications.yaml:22:1: (file): YAML syntax"),
    ],
    ids=["unknown-event", "unknown-service", "unknown-kind", "unknown-placeholder",
         "threshold-without-value", "url-in-the-file", "not-yaml"],
)  # fmt: skip
def test_a_broken_file_is_refused_with_file_and_line(broken: str, expected: str) -> None:
    found = problems(broken)

    assert found and all(p.startswith("deploy/notifications.yaml:") for p in found)
    assert any(expected in p for p in found), found


def test_an_unset_variable_is_named_and_located_and_no_value_is_quoted() -> None:
    found = problems(GOOD, env={"OPS_URL": ENV["OPS_URL"]})

    assert found == [
        "deploy/notifications.yaml:7:20: services.ops.signingKeyEnv: environment variable "
        "OPS_KEY is not set (or empty)",
        "deploy/notifications.yaml:11:15: services.forge.tokenEnv: environment variable "
        "OPS_KEY is not set (or empty)",
    ]
    assert not any(ENV["OPS_URL"] in p for p in problems(GOOD, env={"OPS_URL": ENV["OPS_URL"]}))


def test_an_unknown_service_names_the_defined_ones() -> None:
    (found,) = problems(GOOD.replace("services: [ops]", "services: [opps]"))

    assert found == (
        "deploy/notifications.yaml:14:16: subscriptions[0].services[0]: no service 'opps' is "
        "defined (defined: forge, ops)"
    )


def test_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(NotificationsInvalid, match="cannot read"):
        load_notifications(tmp_path / "absent.yaml", ENV)


def test_run_refuses_a_broken_file_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    broken = tmp_path / "notifications.yaml"
    broken.write_text(GOOD.replace("services: [ops]", "services: [opps]"))

    code = main(["run", "--repo", str(tmp_path), "--notifications", str(broken)])

    assert code == 2
    assert f"{broken.as_posix()}:14:16: subscriptions[0].services[0]: no service" in (
        capsys.readouterr().err
    )


def test_the_example_file_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "notifications.yaml"
    names = ("OPS_WEBHOOK_URL", "OPS_WEBHOOK_KEY", "NLP_SLACK_WEBHOOK_URL", "GITHUB_STATUS_TOKEN",
             "GITLAB_STATUS_TOKEN")  # fmt: skip

    config = load_notifications(example, {name: "set" for name in names})

    assert {s.kind for s in config.services} == {"webhook", "slack", "github", "gitlab"}


TRACKED = """\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
stalledAfter: 90s
services:
  ops: {type: webhook, urlEnv: OPS_URL, signingKeyEnv: OPS_KEY}
  tracking: {type: mlflow, trackingUri: "http://mlflow.mlops:5000/", experiment: "fl/{tenant}"}
subscriptions:
  - services: [ops]
    events: [stalled, invalid]
"""


def test_stalled_after_and_an_mlflow_service_are_read() -> None:
    config = parse_notifications(TRACKED.encode(), "n.yaml", ENV)

    assert config.stalled_after == 90.0
    assert config.wants("stalled") and config.wants("invalid") and not config.wants("round")
    tracking = config.services[1]
    assert (tracking.kind, tracking.tracking_uri) == ("mlflow", "http://mlflow.mlops:5000")
    assert tracking.experiment == "fl/{tenant}"
    default = parse_notifications(GOOD.encode(), "n.yaml", ENV)
    assert default.stalled_after == 600.0  # 10m


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (TRACKED.replace("90s", "2d"), "notifications.yaml:3:15: stalledAfter: must match"),
        (TRACKED.replace("services: [ops]", "services: [ops, tracking]"),
         "notifications.yaml:8:21: subscriptions[0].services[1]: 'tracking' is an mlflow service"),
        (TRACKED.replace("http://mlflow.mlops", "http://user:pw@mlflow.mlops"),
         "notifications.yaml:6:41: services.tracking.trackingUri: must not hold credentials"),
        (TRACKED.replace("{tenant}", "{team}"),
         "notifications.yaml:6:82: services.tracking.experiment: unknown placeholder {team}"),
    ],
    ids=["duration-without-unit", "mlflow-subscribed", "credentials-in-uri", "unknown-placeholder"],
)  # fmt: skip
def test_a_broken_tracking_or_stall_setting_is_refused_with_file_and_line(
    broken: str, expected: str
) -> None:
    found = problems(broken)

    assert any(expected in p for p in found), found
    assert not any("user:pw" in p for p in found)  # a password is never quoted
