"""Which files are specs, which tenant they may claim, and what a broken file still claims."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import reconciler.specs.repo as repo
from reconciler.model import FederationKey
from reconciler.specs import MAX_FILE_BYTES, assemble, check_file, load_files, load_repo, spec_paths
from reconciler.specs.layout import reports_link

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
    state = load_files({"specs/loose.yaml": minimal_document(name="loose").encode()})

    (problem,) = state.problems["specs/loose.yaml"]
    assert "specs/<tenant>/" in problem.message
    assert state.specs == {} and state.claimed == {}


def test_tenant_folders_must_be_dns_labels() -> None:
    state = load_files({"specs/Acme_Corp/a.yaml": minimal_document(tenant="Acme_Corp").encode()})

    messages = [p.message for p in state.problems["specs/Acme_Corp/a.yaml"]]
    assert any("tenant folder 'Acme_Corp'" in m for m in messages)


def test_a_sub_folder_is_an_error_and_the_file_still_claims_its_federation() -> None:
    """Once accepted as acme/a; now an error, so a federation running from it keeps running
    (invalid, not deleted) while the file is moved up."""
    state = load_files({"specs/acme/vision/a.yaml": minimal_document(name="a").encode()})

    (problem,) = state.problems["specs/acme/vision/a.yaml"]
    assert (problem.line, problem.column) == (0, 0)
    assert "not in a sub-folder ('vision/')" in problem.message
    assert "move it to specs/acme/a.yaml" in problem.message
    assert state.specs == {}
    assert state.claimed == {"specs/acme/vision/a.yaml": FederationKey("acme", "a")}


def test_a_name_that_differs_from_the_file_name_is_located_at_metadata_name() -> None:
    state = load_files({"specs/acme/y.yaml": minimal_document(name="x").encode()})

    (problem,) = state.problems["specs/acme/y.yaml"]
    assert str(problem) == (
        "specs/acme/y.yaml:5:9: metadata.name: metadata.name 'x' does not match the file "
        "name 'y.yaml'; rename the file to x.yaml"
    )
    assert state.claimed == {"specs/acme/y.yaml": FederationKey("acme", "x")}


@pytest.mark.parametrize(
    ("path", "name", "says"),
    [
        ("specs/acme/.yaml", "x", "'.yaml' is a hidden file"),
        ("specs/acme/.x.yaml", "x", "'.x.yaml' is a hidden file"),
        ("specs/acme/.drafts/x.yaml", "x", "not in a sub-folder ('.drafts/')"),
        ("specs/acme/x.YAML", "x", "the suffix '.YAML' must be lower-case"),
        ("specs/acme/x.Yml", "x", "the suffix '.Yml' must be lower-case"),
        ("specs/acme/a/b/x.yml", "x", "not in a sub-folder ('a/b/')"),
    ],
)
def test_odd_yaml_files_are_errors_never_skipped(path: str, name: str, says: str) -> None:
    state = load_files({path: minimal_document(name=name).encode()})

    (problem,) = state.problems[path]
    assert says in problem.message and problem.file == path
    assert state.specs == {}


def test_both_suffixes_are_fine_and_other_files_are_not_specs() -> None:
    state = load_files(
        {
            "specs/acme/a.yaml": minimal_document(name="a").encode(),
            "specs/acme/b.yml": minimal_document(name="b").encode(),
            "specs/acme/.gitkeep": b"",
            "specs/acme/notes.txt": b"[",
            "specs/acme/a.yaml.orig": b"[",
        }
    )

    assert sorted(state.specs) == [FederationKey("acme", "a"), FederationKey("acme", "b")]
    assert state.problems == {}


def test_an_invalid_name_gets_its_own_error_not_a_second_one() -> None:
    state = load_files({"specs/acme/my_fed.yaml": minimal_document(name="my_fed").encode()})
    other = load_files({"specs/acme/base.yaml": minimal_document(name="Base").encode()})

    for problems in (
        state.problems["specs/acme/my_fed.yaml"],
        other.problems["specs/acme/base.yaml"],
    ):
        assert [p.field for p in problems] == ["metadata.name"]
        assert "does not match the file name" not in problems[0].message


@pytest.mark.parametrize(
    ("path", "reported"),
    [
        ("specs/acme/a.yaml", True),
        ("specs/acme/a.YML", True),
        ("specs/acme/team", True),  # may be a linked folder
        ("specs/globex", True),
        ("specs/acme/README.md", False),
        ("specs/acme/notes.txt", False),
    ],
)
def test_which_links_are_reported(path: str, reported: bool) -> None:
    assert reports_link(path) is reported


def test_duplicate_names_invalidate_both_files_and_name_each_other() -> None:
    text = minimal_document(name="same").encode()

    state = load_files({"specs/acme/same.yaml": text, "specs/acme/same.yml": text})

    assert state.specs == {}
    (one,) = state.problems["specs/acme/same.yaml"]
    (two,) = state.problems["specs/acme/same.yml"]
    assert "specs/acme/same.yml" in one.message and "specs/acme/same.yaml" in two.message
    assert (one.field, one.line) == ("metadata.name", 5)
    key = FederationKey("acme", "same")
    assert state.claimed == {"specs/acme/same.yaml": key, "specs/acme/same.yml": key}


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


def test_symlinks_are_never_followed(make_repo: MakeRepo) -> None:
    """Not even inside the repository: the daemon reads Git objects, where a link is not its
    target, so `validate` passing a linked spec would promise what the daemon never does."""
    outside = Path(os.path.realpath("/etc/hostname"))
    root = make_repo({"specs/acme/a.yaml": minimal_document(name="a"), "shared/b.yaml": ""})
    (root / "shared/b.yaml").write_text(minimal_document(name="b"))
    (root / "specs/acme/out.yaml").symlink_to(outside)
    (root / "specs/acme/b.yaml").symlink_to(root / "shared/b.yaml")
    (root / "specs/globex").symlink_to(Path("/tmp"), target_is_directory=True)
    (root / "specs/acme/team").symlink_to(root / "shared", target_is_directory=True)
    (root / "specs/acme/README.md").symlink_to(root / "shared/b.yaml")  # not where a spec is

    state = load_repo(root)

    assert sorted(state.specs) == [FederationKey("acme", "a")]
    assert "outside the repository" in state.problems["specs/acme/out.yaml"][0].message
    assert "outside the repository" in state.problems["specs/globex"][0].message
    assert "is a symbolic link" in state.problems["specs/acme/b.yaml"][0].message
    assert "folders are not followed" in state.problems["specs/acme/team"][0].message
    assert "specs/acme/README.md" not in state.problems


def test_a_submodule_under_specs_is_reported_not_read(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "specs/acme/a.yaml": minimal_document(name="a"),
            "specs/acme/vendored/.git": "gitdir: ../../../.git/modules/vendored\n",
            "specs/acme/vendored/b.yaml": minimal_document(name="b"),
        }
    )

    state = load_repo(root)

    assert sorted(state.specs) == [FederationKey("acme", "a")]
    (problem,) = state.problems["specs/acme/vendored"]
    assert "is a submodule" in problem.message
    assert "specs/acme/vendored/b.yaml" not in state.problems


def test_specs_itself_as_a_link_is_reported(make_repo: MakeRepo) -> None:
    root = make_repo({"elsewhere/acme/a.yaml": minimal_document(name="a")})
    (root / "specs").rmdir()
    (root / "specs").symlink_to(root / "elsewhere", target_is_directory=True)

    state = load_repo(root)

    assert state.specs == {}
    assert "specs is a symbolic link" in state.problems["specs"][0].message


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
