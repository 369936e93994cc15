"""Property tests: generated valid specs load unchanged; no input makes loading raise."""

from __future__ import annotations

import string
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.model import FederationKey
from reconciler.specs import load_files
from tests.support.policies import OPEN_POLICY

from .conftest import CORPUS

dns_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
sha256 = st.text("0123456789abcdef", min_size=64, max_size=64)
relative_path = st.lists(
    st.text(string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=8).filter(
        lambda part: part not in (".", "..")
    ),
    min_size=1,
    max_size=3,
).map(lambda parts: "data/" + "/".join(parts))
object_uri = relative_path | st.builds("s3://{}/{}".format, st.just("fl-data"), relative_path)
positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
# PyYAML's dumper does not round-trip control characters (NEL comes back as a space).
printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"))
words = st.text(printable, max_size=10)
flat_value = words | st.integers(-1000, 1000) | positive | st.booleans()


def optional(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


@st.composite
def strategies(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["fedavg", "fedprox", "custom"]))
    params = draw(
        optional(
            {
                "clientFraction": st.floats(min_value=0.01, max_value=1.0),
                "minAvailable": st.integers(1, 100),
                "localEpochs": st.integers(1, 10),
                "localBatchSize": st.integers(1, 512),
                "learningRate": positive,
            }
        )
    )
    if name == "fedprox":
        params["proxMu"] = draw(st.floats(min_value=0, max_value=10))
    if name == "custom":
        params["class"] = draw(st.sampled_from(["FedAdam", "FedYogi", "pkg.mod:Cls"]))
        params["options"] = draw(
            st.dictionaries(st.text(printable, min_size=1, max_size=8), flat_value)
        )
    return {"name": name, "params": params}


@st.composite
def documents(draw: st.DrawFn, tenant: str) -> dict[str, Any]:
    shards = draw(
        st.lists(
            st.fixed_dictionaries({"uri": object_uri}, optional={"sha256": sha256}),
            min_size=1,
            max_size=4,
            unique_by=lambda shard: shard["uri"],
        )
    )
    spec: dict[str, Any] = {
        "modelRef": draw(
            st.fixed_dictionaries(
                {"uri": object_uri},
                optional={"sha256": sha256, "format": st.sampled_from(["npz", "torch"])},
            )
        ),
        "strategy": draw(strategies()),
        "rounds": draw(
            st.fixed_dictionaries(
                {"total": st.integers(1, 10_000)}, optional={"timeoutSeconds": positive}
            )
        ),
        "datasetSpec": {"shards": shards},
        "artifacts": {"outputBucket": draw(st.sampled_from(["s3://out", "artifacts"]))},
    }
    spec.update(
        draw(
            optional(
                {
                    "paused": st.booleans(),
                    "stop": st.booleans(),
                    "seed": st.integers(0, 2**31),
                    "privacy": st.builds(
                        lambda e, d: {"dp": {"enabled": True, "epsilon": e, "delta": d}},
                        positive,
                        st.floats(min_value=1e-9, max_value=0.5),
                    ),
                    "constraints": st.builds(
                        lambda ttl: {"lease": {"ttlSeconds": ttl}}, st.integers(60, 10**6)
                    ),
                }
            )
        )
    )
    metadata = {"name": draw(dns_label), "tenant": tenant}
    labels = draw(st.dictionaries(st.text(printable, min_size=1, max_size=10), words))
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "thunderline.okocorp/v1",
        "kind": "FederationSpec",
        "metadata": metadata,
        "spec": spec,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents("acme"), st.sampled_from([{}, {"default_flow_style": True}]))
def test_generated_valid_specs_load_unchanged(document: dict[str, Any], style: Any) -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, **style)

    path = f"specs/acme/{document['metadata']['name']}.yaml"  # a spec is named after its file
    state = load_files({path: text.encode()}, policy=OPEN_POLICY)

    assert state.problems == {}, [str(p) for ps in state.problems.values() for p in ps]
    key = FederationKey("acme", document["metadata"]["name"])
    assert state.specs[key].document == document


SEED = (CORPUS / "valid" / "full.yaml").read_bytes()


def _assert_only_problems(content: bytes) -> None:
    state = load_files({"specs/acme/fuzz.yaml": content}, policy=OPEN_POLICY)
    for problems in state.problems.values():
        for problem in problems:
            assert "internal error" not in problem.message, problem
            assert problem.line >= 0 and problem.column >= 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(content: bytes) -> None:
    _assert_only_problems(content)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SEED) - 1), st.integers(0, 40), st.binary(min_size=0, max_size=12))
def test_mutated_yaml_never_raises(at: int, cut: int, insert: bytes) -> None:
    _assert_only_problems(SEED[:at] + insert + SEED[at + cut :])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=":-[]{}&*!|>'\"%@`#,? \n\tab01.~", max_size=120))
def test_yaml_punctuation_never_raises(text: str) -> None:
    _assert_only_problems(text.encode())


def test_a_bug_in_one_file_becomes_that_files_problem(monkeypatch: Any) -> None:
    import reconciler.specs.filecheck as filecheck

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(filecheck, "schema_findings", explode)
    state = load_files({"specs/acme/a.yaml": SEED}, policy=OPEN_POLICY)

    (problem,) = state.problems["specs/acme/a.yaml"]
    assert "internal error" in problem.message and "RuntimeError" in problem.message
