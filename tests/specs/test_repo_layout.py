"""Which files are specs, which tenant they may claim, and what a broken file still claims."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import reconciler.specs.repo as repo
from reconciler.model import FederationKey
from reconciler.specs import MAX_FILE_BYTES, assemble, check_file, load_files, load_repo, spec_paths

from .conftest import minimal_document

MakeRepo = Callable[[dict[str, str | bytes]], Path]


def test_only_yaml_under_specs_is_read() -> None:
    files = {
        "specs/acme/a.yaml": minimal_document(name="a").encode(),
        "specs/acme/b.yml": minimal_document(name="b").encode(),
        "specs/acme/README.md": b"not yaml: [",
        "status/acme/a.yaml": b"phase: [broken",
        "other/x.yaml": b"[broken",
    }

    state = load_files(files)

    assert sorted(state.specs) == [FederationKey("acme", "a"), FederationKey("acme", "b")]
    assert state.problems == {}


def test_a_file_directly_in_specs_is_an_error() -> None:
    state = load_files({"specs/loose.yaml": minimal_document().encode()})

    (problem,) = state.problems["specs/loose.yaml"]
    assert "specs/<tenant>/" in problem.message
    assert state.specs == {} and state.claimed == {}


def test_tenant_folders_must_be_dns_labels() -> None:
    state = load_files({"specs/Acme_Corp/a.yaml": minimal_document(tenant="Acme_Corp").encode()})

    messages = [p.message for p in state.problems["specs/Acme_Corp/a.yaml"]]
    assert any("tenant folder 'Acme_Corp'" in m for m in messages)


def test_nested_folders_belong_to_the_first_tenant_folder() -> None:
    state = load_files({"specs/acme/vision/a.yaml": minimal_document(name="a").encode()})

    assert list(state.specs) == [FederationKey("acme", "a")]


def test_duplicate_names_invalidate_both_files_and_name_each_other() -> None:
    text = minimal_document(name="same").encode()

    state = load_files({"specs/acme/one.yaml": text, "specs/acme/two.yaml": text})

    assert state.specs == {}
    (one,) = state.problems["specs/acme/one.yaml"]
    (two,) = state.problems["specs/acme/two.yaml"]
    assert "specs/acme/two.yaml" in one.message and "specs/acme/one.yaml" in two.message
    assert (one.field, one.line) == ("metadata.name", 5)
    key = FederationKey("acme", "same")
    assert state.claimed == {"specs/acme/one.yaml": key, "specs/acme/two.yaml": key}


def test_same_name_in_two_tenants_is_fine() -> None:
    state = load_files(
        {
            "specs/acme/a.yaml": minimal_document("acme", "a").encode(),
            "specs/globex/a.yaml": minimal_document("globex", "a").encode(),
        }
    )

    assert len(state.specs) == 2


def test_an_invalid_file_still_claims_its_federation() -> None:
    schema_error = minimal_document(name="typo").replace("total: 1", "total: 0")
    syntax_error = minimal_document(name="broken") + "  extra: [unclosed\n"

    state = load_files(
        {"specs/acme/typo.yaml": schema_error.encode(), "specs/acme/b.yaml": syntax_error.encode()}
    )

    assert state.specs == {}
    assert state.claimed == {
        "specs/acme/typo.yaml": FederationKey("acme", "typo"),
        "specs/acme/b.yaml": FederationKey("acme", "broken"),
    }


def test_valid_specs_keep_the_document_as_written() -> None:
    text = minimal_document(name="a")

    spec = load_files({"specs/acme/a.yaml": text.encode()}, revision="abc123").specs[
        FederationKey("acme", "a")
    ]

    assert spec.path == "specs/acme/a.yaml"
    assert "privacy" not in spec.spec and "params" not in spec.spec["strategy"]  # no defaults
    assert len(spec.digest) == 64


def test_load_repo_reads_specs_and_reports_unreadable_files(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "specs/acme/a.yaml": minimal_document(name="a"),
            "specs/acme/big.yaml": b"#" * (MAX_FILE_BYTES + 1),
            "status/acme/a.yaml": "not: [read",
        }
    )

    state = load_repo(root, revision="r1")

    assert list(state.specs) == [FederationKey("acme", "a")]
    assert "too large" in state.problems["specs/acme/big.yaml"][0].message
    assert state.revision == "r1"
    assert spec_paths(root) == ["specs/acme/a.yaml", "specs/acme/big.yaml"]


def test_symlinks_leading_out_of_the_repository_are_not_followed(make_repo: MakeRepo) -> None:
    outside = Path(os.path.realpath("/etc/hostname"))
    root = make_repo({"specs/acme/a.yaml": minimal_document(name="a"), "shared/b.yaml": ""})
    (root / "shared/b.yaml").write_text(minimal_document(name="b"))
    (root / "specs/acme/out.yaml").symlink_to(outside)
    (root / "specs/acme/in.yaml").symlink_to(root / "shared/b.yaml")
    (root / "specs/globex").symlink_to(Path("/tmp"), target_is_directory=True)

    state = load_repo(root)

    assert sorted(state.specs) == [FederationKey("acme", "a"), FederationKey("acme", "b")]
    assert "outside the repository" in state.problems["specs/acme/out.yaml"][0].message
    assert "outside the repository" in state.problems["specs/globex"][0].message


def test_a_fifo_is_not_read(make_repo: MakeRepo) -> None:
    root = make_repo({"specs/acme/a.yaml": minimal_document(name="a")})
    os.mkfifo(root / "specs/acme/pipe.yaml")

    state = load_repo(root)

    assert "not a regular file" in state.problems["specs/acme/pipe.yaml"][0].message


def test_many_files_check_the_same_in_parallel() -> None:
    files = {
        f"specs/t{i % 7}/f{i}.yaml": minimal_document(f"t{i % 7}", f"f{i}").encode()
        for i in range(450)
    }
    files["specs/t0/bad.yaml"] = b"apiVersion: [\n"

    serial, parallel = load_files(files), load_files(files, workers=2)

    assert parallel == serial
    assert len(parallel.specs) == 450 and list(parallel.problems) == ["specs/t0/bad.yaml"]


def test_a_folder_that_cannot_be_listed_is_reported_not_skipped(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo({"specs/acme/a.yaml": minimal_document(name="a"), "specs/globex/b.yaml": ""})
    real_scandir = os.scandir

    def scandir(folder: Path) -> object:
        if Path(folder).name == "globex":
            raise PermissionError(13, "Permission denied")
        return real_scandir(folder)

    monkeypatch.setattr(repo.os, "scandir", scandir)
    state = load_repo(root)

    assert list(state.specs) == [FederationKey("acme", "a")]
    assert "cannot list this folder" in state.problems["specs/globex"][0].message


def test_assembling_again_keeps_unchanged_specs_as_the_same_objects() -> None:
    """The daemon reassembles 10,000 specs when one changes; the others keep their
    computed answers (paused, rounds) instead of reading their documents again."""
    example = (Path(__file__).parents[2] / "specs" / "acme" / "digits-fedavg.yaml").read_bytes()
    first = check_file("specs/acme/a.yaml", example.replace(b"digits-fedavg", b"a"))
    other = check_file("specs/acme/b.yaml", example.replace(b"digits-fedavg", b"b"))
    before = assemble([first, other])
    changed = check_file("specs/acme/b.yaml", example.replace(b"digits-fedavg", b"b") + b"\n# x")
    moved = check_file(
        "specs/acme/b.yaml",
        example.replace(b"total: 5", b"total: 6").replace(b"digits-fedavg", b"b"),
    )
    after = assemble([first, changed], previous=before)
    key_a, key_b = FederationKey("acme", "a"), FederationKey("acme", "b")
    assert after.specs[key_a] is before.specs[key_a]
    assert after.specs[key_b] is before.specs[key_b]  # same digest: same spec
    again = assemble([first, moved], previous=after)
    assert again.specs[key_b] is not after.specs[key_b]
    assert again.specs[key_b].digest == moved.digest != changed.digest
