"""Several SuperLinks: reading the targets configuration, and routing calls to the target
they name (reconciler/runtime/targets.py). Fast: fakes stand in for the SuperLinks here; the
two-SuperLink run is tests/e2e/test_two_superlinks.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import build_parser
from reconciler.cli.run import settings_from
from reconciler.model import DEFAULT_TARGET, FederationKey, TargetNames
from reconciler.runtime.base import RunNotFound, RunRequest
from reconciler.runtime.fake import FakeRuntime
from reconciler.runtime.targets import (
    NAME,
    TARGETS_ENV,
    TargetInvalid,
    TargetRuntimes,
    parse_target,
    parse_targets,
    target_names,
    targets_in_env,
    transport_of,
)
from reconciler.runtime.tls import Transport
from reconciler.settings import RuntimeSettings, TargetSettings
from reconciler.specs.schema import SCHEMA_PATH

KEY = FederationKey("acme", "digits")
DOCUMENT = {  # what the fake accepts: a model and a shard
    "spec": {"modelRef": {"uri": "m.npz"}, "datasetSpec": {"shards": [{"uri": "s.npz"}]}}
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eu=10.0.0.5:9093", TargetSettings("eu", "10.0.0.5:9093")),
        ("eu=sl.eu:9093,ca=/etc/eu.pem", TargetSettings("eu", "sl.eu:9093", Path("/etc/eu.pem"))),
        ("us-east=sl.us:9093,insecure", TargetSettings("us-east", "sl.us:9093", insecure=True)),
    ],
)
def test_a_target_reads_name_address_and_tls(text: str, expected: TargetSettings) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("10.0.0.5:9093", "write name=HOST:PORT"),
        ("eu=", "write name=HOST:PORT"),
        ("EU=sl:1", "DNS-1123 label"),
        ("eu=sl:1,tls", "unknown option 'tls'"),
        ("eu=sl:1,ca=", "unknown option 'ca='"),
        ("eu=sl:1,ca=/x.pem,insecure", "contradict"),
    ],
)
def test_a_target_that_cannot_be_read_is_refused_by_name(text: str, says: str) -> None:
    with pytest.raises(TargetInvalid, match=says):
        parse_target(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eu=sl.eu:9093,ca=/etc/eu.pem", Transport(insecure=False, ca_file=Path("/etc/eu.pem"))),
        ("eu=sl.eu:9093,insecure", Transport(insecure=True)),
        ("eu=127.0.0.1:9093", Transport(insecure=True)),  # loopback, as for --superlink
        ("eu=sl.eu:9093", Transport(insecure=False)),  # remote: TLS with the default CAs
    ],
)
def test_each_target_chooses_tls_as_superlink_does(text: str, expected: Transport) -> None:
    assert transport_of(parse_target(text)) == expected


def test_a_name_given_twice_is_refused() -> None:
    with pytest.raises(TargetInvalid, match="more than once: eu"):
        parse_targets(["eu=a:1", "us=b:1", "eu=c:1"])


def test_the_environment_holds_items_separated_by_semicolons_or_spaces() -> None:
    env = {TARGETS_ENV: "eu=a:1,insecure; us=b:2\n ap=c:3"}
    assert [t.name for t in parse_targets(targets_in_env(env))] == ["eu", "us", "ap"]
    assert targets_in_env({}) == []


def test_the_target_name_pattern_is_the_schemas() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["properties"]["spec"]["properties"]["target"]["pattern"] == NAME.pattern


@pytest.mark.parametrize(
    ("runtime", "names", "default"),
    [
        (RuntimeSettings(), {DEFAULT_TARGET}, DEFAULT_TARGET),  # the local SuperLink
        (RuntimeSettings(superlink="sl:1"), {DEFAULT_TARGET}, DEFAULT_TARGET),
        (RuntimeSettings(targets=(TargetSettings("eu", "a:1"),)), {"eu"}, "eu"),
        (
            RuntimeSettings(targets=(TargetSettings("eu", "a:1"), TargetSettings("us", "b:1"))),
            {"eu", "us"},
            None,
        ),
        (
            RuntimeSettings(superlink="sl:1", targets=(TargetSettings("eu", "a:1"),)),
            {DEFAULT_TARGET, "eu"},
            DEFAULT_TARGET,
        ),
    ],
)
def test_the_default_target_is_superlink_else_the_only_one(
    runtime: RuntimeSettings, names: set[str], default: str | None
) -> None:
    assert target_names(runtime) == TargetNames(frozenset(names), default)


def test_a_target_named_default_beside_superlink_is_refused() -> None:
    runtime = RuntimeSettings(superlink="sl:1", targets=(TargetSettings(DEFAULT_TARGET, "a:1"),))
    with pytest.raises(TargetInvalid, match="--superlink"):
        target_names(runtime)


def test_names_resolve_and_unknown_ones_say_what_is_driven() -> None:
    several = TargetNames(frozenset({"eu", "us"}), None)
    assert several.resolve("eu") == "eu" and several.resolve(None) is None
    assert several.problem("ap") == "unknown target 'ap': this daemon drives eu, us"
    assert "name one in spec.target" in several.problem(None)
    assert several.problem("us") == ""


def test_run_flags_and_environment_become_targets_and_plan_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TARGETS_ENV, "ap=c:3")
    parser = build_parser()
    flags = ["run", "--repo", ".", "--superlink", "sl:1", "--flower-target", "eu=a:1,insecure"]
    settings = settings_from(parser.parse_args(flags))
    assert settings.runtime.targets == (TargetSettings("eu", "a:1", insecure=True),)
    assert settings.plan.targets == TargetNames(frozenset({"eu", DEFAULT_TARGET}), "default")
    from_env = settings_from(parser.parse_args(["run", "--repo", "."]))
    assert [t.name for t in from_env.runtime.targets] == ["ap"]
    assert from_env.plan.targets == TargetNames(frozenset({"ap"}), "ap")


def request(target: str, name: str = "digits") -> RunRequest:
    key = FederationKey("acme", name)
    return RunRequest(key, 1, 1, DOCUMENT, "file:///tmp/ckpt", "/tmp", "http://x", target=target)


def test_calls_go_to_the_target_they_name_and_run_ids_stay_per_target() -> None:
    eu, us = FakeRuntime(name="eu"), FakeRuntime(name="us")
    runtimes = TargetRuntimes({"eu": eu, "us": us})
    first_eu = runtimes.submit(request("eu", "a"))
    first_us = runtimes.submit(request("us", "b"))
    assert first_eu == first_us == 1  # each SuperLink counts its own runs
    assert runtimes.targets == ("eu", "us")
    assert {(o.target, o.run_id, o.key.name) for o in runtimes.observe()} == {
        ("eu", 1, "a"),
        ("us", 1, "b"),
    }
    assert runtimes.find_run(FederationKey("acme", "b"), 1, 1, target="us") == 1
    assert runtimes.find_run(FederationKey("acme", "b"), 1, 1, target="eu") is None
    runtimes.stop(1, target="us")
    assert (eu.runs[1].status, us.runs[1].sub_status) == ("running", "stopped")
    assert runtimes.logs(1, target="eu") == eu.logs(1, target="eu")
    assert len(runtimes.nodes(target="us")) == 3


def test_a_target_not_driven_is_run_not_found_never_another_superlink() -> None:
    runtimes = TargetRuntimes({"eu": FakeRuntime(name="eu")})
    with pytest.raises(RunNotFound, match="'us' is not configured"):
        runtimes.submit(request("us"))
    with pytest.raises(RunNotFound, match="not this SuperLink"):
        FakeRuntime(name="eu").stop(1, target="us")
