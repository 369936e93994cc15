"""Cross-tenant table: every way a spec of tenant acme could reach another tenant's data, or
the daemon's host, is a `FILE:LINE:COL` error from `reconciler validate`; what the policy
allows still validates. Each row is a spec of acme with one field changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main

MINIMAL = """\
apiVersion: thunderline.okocorp/v1
kind: FederationSpec
metadata:
  name: probe
  tenant: acme
spec:
  modelRef:
    uri: {model}
  strategy:
    name: fedavg
  rounds:
    total: 1
  datasetSpec:
    shards:
      - uri: {shard}
  artifacts:
    outputBucket: {bucket}
    prefix: {prefix}
"""
POLICY_HEAD = "apiVersion: thunderline.okocorp/v1\nkind: TenantPolicy\n"
DEFAULTS = {
    "model": "models/init.npz",
    "shard": "data/shard-0.npz",
    "bucket": "s3://fl-checkpoints",
    "prefix": "probe",
}
# field changed -> (value, the field reported, its line in MINIMAL)
REFUSED = {
    "prefix-dot-dot": ("prefix", "acme/../globex/victim", "spec.artifacts.prefix", 18),
    "prefix-leading-dot-dot": ("prefix", "../globex/victim", "spec.artifacts.prefix", 18),
    "prefix-encoded-dot-dot": ("prefix", "'%2e%2e/globex/victim'", "spec.artifacts.prefix", 18),
    "prefix-absolute": ("prefix", "/globex/victim", "spec.artifacts.prefix", 18),
    "prefix-empty-segment": ("prefix", "a//b", "spec.artifacts.prefix", 18),
    "prefix-backslash": ("prefix", "'a\\..\\..\\globex'", "spec.artifacts.prefix", 18),
    "model-other-tenant-checkpoint": (
        "model",
        "s3://fl-checkpoints/globex/victim/g1/round-0003.npz",
        "spec.modelRef.uri",
        8,
    ),
    "model-other-bucket": ("model", "s3://globex-private/init.npz", "spec.modelRef.uri", 8),
    "model-own-folder-by-dot-dot": (
        "model",
        "s3://fl-checkpoints/acme/../globex/victim/g1/round-0003.npz",
        "spec.modelRef.uri",
        8,
    ),
    "model-own-folder-encoded": (
        "model",
        "s3://fl-checkpoints/acme/%2e%2e/globex/round-0003.npz",
        "spec.modelRef.uri",
        8,
    ),
    "shard-etc-passwd": ("shard", "file:///etc/passwd", "spec.datasetSpec.shards[0].uri", 15),
    "shard-host-file": (
        "shard",
        "file:///var/lib/thunderline/x.npz",
        "spec.datasetSpec.shards[0].uri",
        15,
    ),
    "shard-repo-escape": ("shard", "../../etc/passwd", "spec.datasetSpec.shards[0].uri", 15),
    "shard-absolute": ("shard", "/etc/passwd", "spec.datasetSpec.shards[0].uri", 15),
    "bucket-traversal": ("bucket", "s3://../globex", "spec.artifacts.outputBucket", 17),
}
ALLOWED = {
    "own-folder-checkpoint": ("model", "s3://fl-checkpoints/acme/old/g1/round-0003.npz"),
    "repository-path": ("shard", "data/acme/shard-1.npz"),
    # Harmless now: the tenant folder is added by the daemon (acme/globex/victim/...).
    "another-tenants-name-as-prefix": ("prefix", "globex/victim"),
}


def write_repo(tmp_path: Path, text: str, policy: str | None = None) -> tuple[Path, list[str]]:
    """The probe spec in a repository at `tmp_path`, and the --policy flag for `policy`."""
    spec = tmp_path / "specs" / "acme" / "probe.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(text)
    if policy is None:
        return spec, []
    (tmp_path / "policy.yaml").write_text(POLICY_HEAD + policy)
    return spec, ["--policy", str(tmp_path / "policy.yaml")]


def validate(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list]:
    write_repo(tmp_path, text)
    code = main(["validate", str(tmp_path), "--output", "json"])
    return code, json.loads(capsys.readouterr().out)["problems"]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_cross_tenant_attempt_is_a_located_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    field, value, reported, line = REFUSED[case]
    code, problems = validate(tmp_path, MINIMAL.format(**{**DEFAULTS, field: value}), capsys)
    assert code == 1
    assert {(p["field"], p["line"]) for p in problems} == {(reported, line)}, problems
    assert all(p["column"] > 0 and p["file"].endswith("specs/acme/probe.yaml") for p in problems)


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_what_stays_in_the_tenants_own_places_is_valid(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    field, value = ALLOWED[case]
    code, problems = validate(tmp_path, MINIMAL.format(**{**DEFAULTS, field: value}), capsys)
    assert (code, problems) == (0, [])


def test_inputs_denied_by_default_are_allowed_when_the_policy_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = (
        "tenants:\n  acme:\n    read: ['file:///srv/datasets/{tenant}/', 's3://shared/public/']\n"
    )
    text = MINIMAL.format(
        **{
            **DEFAULTS,
            "shard": "file:///srv/datasets/acme/a.npz",
            "model": "s3://shared/public/m.npz",
        }
    )
    spec, flag = write_repo(tmp_path, text, policy)
    assert main(["validate", str(tmp_path), *flag]) == 0
    # The same read list does not open another tenant's folder under the placeholder.
    spec.write_text(text.replace("/datasets/acme/", "/datasets/globex/"))
    assert main(["validate", str(tmp_path), *flag]) == 1
    assert "may not read 'file:///srv/datasets/globex/a.npz'" in capsys.readouterr().out


def test_a_bucket_outside_the_write_list_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MINIMAL.format(**{**DEFAULTS, "bucket": "s3://globex-private"})
    _, flag = write_repo(tmp_path, text, "defaults:\n  write: [fl-checkpoints]\n")
    assert main(["validate", str(tmp_path), *flag, "-o", "json"]) == 1
    [problem] = json.loads(capsys.readouterr().out)["problems"]
    assert (problem["field"], problem["line"], problem["policy"]) == (
        "spec.artifacts.outputBucket",
        17,
        True,
    )
    assert "may not write into 's3://globex-private'" in problem["message"]
