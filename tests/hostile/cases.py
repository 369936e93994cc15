"""The hostile corpus: malformed or malicious spec files and repository layouts.

Each `Case` is a set of repository entries (files, symlinks, submodules) and the problem it
must produce: a regular expression the message must match, at a path. Generated in code,
because half of them are what a corpus folder cannot hold (a 300 KB file, NUL bytes, a link
leading out of the repository, a submodule). Every case declares its own federation name,
so that all of them fit in one repository next to a good spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

TENANT = "hostile"
GOOD_PATH = "specs/acme/digits-fedavg.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # path -> link target, as committed
    submodules: tuple[str, ...] = ()  # paths of gitlinks (a Git tree only, not a folder)
    expect: str = ""  # regular expression the problem's message matches
    at: str = ""  # the path the problem is reported at (default: the only entry)
    gap: str = ""  # a known gap: why this is not refused yet (the tests expect it to pass)

    @property
    def where(self) -> str:
        if self.at:
            return self.at
        entries = [*self.files, *self.links, *self.submodules]
        assert len(entries) == 1, f"{self.id}: say where the problem is reported"
        return entries[0]

    @property
    def on_disk(self) -> bool:
        """Whether a checkout can hold it (a submodule's folder would just be empty)."""
        return not self.submodules


def document(name: str, *, tenant: str = TENANT, extra: str = "", spec: str = "") -> str:
    """A minimal valid spec; `spec` replaces its spec block, `extra` is appended."""
    body = spec or (
        "spec:\n"
        "  modelRef:\n    uri: models/init.npz\n"
        "  strategy:\n    name: fedavg\n"
        "  rounds:\n    total: 1\n"
        "  datasetSpec:\n    shards:\n      - uri: data/shard-0.npz\n"
        "  artifacts:\n    outputBucket: s3://fl-checkpoints\n"
    )
    head = (
        "apiVersion: thunderline.okocorp/v1\nkind: FederationSpec\n"
        f"metadata:\n  name: {name}\n  tenant: {tenant}\n"
    )
    return head + body + extra


def with_field(name: str, old: str, new: str) -> bytes:
    text = document(name)
    assert old in text, old
    return text.replace(old, new).encode()


def _file(case_id: str, content: bytes | str, expect: str) -> Case:
    data = content.encode() if isinstance(content, str) else content
    return Case(case_id, files={f"specs/{TENANT}/{case_id}.yaml": data}, expect=expect)


def _yaml_cases() -> Iterator[Case]:
    laughs = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
    )
    yield _file("billion-laughs", laughs, "alias|node|expan")
    big = "x" * 2000
    blowup = f"s: &s {big}\nlist: [{', '.join(['*s'] * 20000)}]\n"
    # 20 000 references to one 2 KB string: shared, not copied, so it costs nothing.
    yield _file("quadratic-blowup", blowup, "required field|unknown field")
    yield _file("recursive-alias", "a: &a [*a]\n", "alias|recurs|undefined|found")
    yield _file("deep-flow-nesting", "[" * 5000 + "]" * 5000, "deep|nest")
    deep_block = "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
    yield _file("deep-block-nesting", deep_block, "deep|nest")
    yield _file("huge-comments", "# padding\n" * 40_000, "too large")
    yield _file("huge-single-line", "name: " + "a" * 300_000, "too large")
    many = "".join(f"k{i}: {i}\n" for i in range(25_000))
    yield _file("many-keys", many, "too large|node|additional|not allowed")
    yield _file("binary-garbage", bytes(range(256)) * 8, "UTF-8|control|character")
    yield _file("nul-bytes", document("nul-bytes").encode() + b"\x00\x00", "character|NUL|control")
    yield _file("utf16", document("utf16").encode("utf-16"), "UTF-8")
    yield _file(
        "latin1", document("latin1").replace("fedavg", "f\u00e9davg").encode("latin-1"), "UTF-8"
    )
    yield _file("python-object", "!!python/object/apply:os.system ['touch /tmp/pwned']\n", "tag")
    yield _file("python-name", "x: !!python/name:os.system\n", "tag")
    yield _file("local-tag", document("local-tag").replace("fedavg", "!evil fedavg"), "tag")
    yield _file("binary-tag", document("binary-tag") + "blob: !!binary aGVsbG8=\n", "tag")
    yield _file("timestamp-tag", document("timestamp-tag") + "t: !!timestamp 2001-12-14\n", "tag")
    yield _file("set-tag", "!!set {a, b}\n", "tag")
    merge = "b: &b {x: 1}\n" + "".join(f"m{i}: {{<<: [*b, *b, *b]}}\n" for i in range(50))
    yield _file("merge-keys", merge, "apiVersion|required|additional|not allowed")
    yield _file("two-documents", document("two-documents") + "---\n" + document("x"), "exactly one")
    yield _file("empty-document", "---\n", "empty|null|object|mapping")
    yield _file("only-comments", "# nothing here\n", "empty")
    yield _file("top-level-scalar", "just a string\n", "object|mapping")
    yield _file("top-level-list", "- a\n- b\n", "object|mapping")
    yield _file("null-document", "null\n", "object|mapping|null")
    dup = document("duplicate-keys").replace(
        "kind: FederationSpec\n", "kind: FederationSpec\nkind: X\n"
    )
    yield _file("duplicate-keys", dup, "duplicate")
    yield _file("complex-key", "? [a, b]\n: c\n", "key|string")
    yield _file("bool-key", document("bool-key") + "on: true\n", "key|string|boolean")
    yield Case(
        "nan-rounds",
        files={
            f"specs/{TENANT}/nan-rounds.yaml": with_field("nan-rounds", "total: 1", "total: .nan")
        },
        expect="NaN|nan|number|integer",
    )
    yield Case(
        "infinite-rounds",
        files={
            f"specs/{TENANT}/infinite-rounds.yaml": with_field(
                "infinite-rounds", "total: 1", "total: .inf"
            )
        },
        expect="inf|number|integer",
    )
    yield Case(
        "huge-integer",
        files={
            f"specs/{TENANT}/huge-integer.yaml": with_field(
                "huge-integer", "total: 1", f"total: {10**100}"
            )
        },
        expect="must be <= 100000",
    )
    yield _file(
        "conflict-markers",
        "<<<<<<< HEAD\n"
        + document("conflict-markers")
        + "=======\n"
        + document("x")
        + ">>>>>>> b\n",
        "syntax|expected|could not|mapping|found",
    )
    yield _file(
        "tab-indentation",
        document("tab-indentation").replace("  name:", "\tname:"),
        "tab|syntax|found",
    )


def _name_cases() -> Iterator[Case]:
    names = {
        "name-cyrillic": "d\u0456gits-fedavg",  # a Cyrillic i: looks like a name in use
        "name-zero-width": "zero\u200bwidth",
        "name-rtl-override": "evil\u202egpj",
        "name-fullwidth": "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48",
        "name-traversal": "../../etc/passwd",
        "name-dot-dot": "'..'",
        "name-slash": "acme/evil",
        "name-newline": '"line\\nbreak"',
        "name-control": '"bell\\a"',
        "name-too-long": "a" * 10_000,
        "name-empty": '""',
        "name-leading-dash": "-leading-dash",
        "name-uppercase": "UPPER",
    }
    for case_id, name in names.items():
        yield _file(case_id, document(name), "DNS-1123 label|at most 63 characters")


def _tenant_cases() -> Iterator[Case]:
    yield _file(
        "tenant-spoofed", document("tenant-spoofed", tenant="acme"), "does not match the folder"
    )
    yield _file(
        "tenant-cyrillic",
        document("tenant-cyrillic", tenant="host\u0456le"),
        "does not match|DNS|label|pattern",
    )
    yield _file(
        "tenant-missing", document("tenant-missing").replace("  tenant: hostile\n", ""), "required"
    )
    selector = "  clientSelector:\n    matchLabels:\n      tenant: acme\n"
    yield _file(
        "selector-other-tenant",
        document("selector-other-tenant", extra=selector),
        "only use its own tenant|tenant",
    )


def _uri_cases() -> Iterator[Case]:
    uris = {
        "model-traversal": ("models/init.npz", "../../../etc/passwd"),
        "model-absolute": ("models/init.npz", "/etc/passwd"),
        "model-backslash": ("models/init.npz", "models\\..\\..\\secret"),
        "model-file-host": ("models/init.npz", "file://evil.example/x.npz"),
        "model-metadata-service": ("models/init.npz", "http://169.254.169.254/latest/meta-data"),
        "shard-traversal": ("data/shard-0.npz", "data/../../outside.npz"),
        "shard-gopher": ("data/shard-0.npz", "gopher://127.0.0.1:6379/_FLUSHALL"),
        "bucket-traversal": ("s3://fl-checkpoints", "s3://../other-tenant"),
        "bucket-into-specs": ("s3://fl-checkpoints", "specs/acme"),
    }
    for case_id, (old, new) in uris.items():
        yield Case(
            case_id,
            files={f"specs/{TENANT}/{case_id}.yaml": with_field(case_id, old, new)},
            expect="outside|absolute|unsupported|slash|scheme|not a valid|must|specs/|URI|uri|path",
        )
    gaps = {
        "model-from-git-dir": (
            ".git/config",
            "paths into .git/ (the daemon's own checkout) are accepted",
        ),
        "model-nul-in-path": ('"models/init\\0.npz"', "a NUL character in a path is accepted"),
    }
    for case_id, (new, gap) in gaps.items():
        yield Case(
            case_id,
            files={f"specs/{TENANT}/{case_id}.yaml": with_field(case_id, "models/init.npz", new)},
            expect=".git|NUL|character|path",
            gap=gap,
        )
    prefix = "  artifacts:\n    outputBucket: s3://fl-checkpoints\n    prefix: ../../acme/digits-fedavg\n"
    yield _file(
        "prefix-traversal",
        document("prefix-traversal").replace(
            "  artifacts:\n    outputBucket: s3://fl-checkpoints\n", prefix
        ),
        "inside the bucket|outside|relative",
    )
    app = "  app:\n    path: ../../../../tmp/evil-app\n"
    yield _file("app-path-traversal", document("app-path-traversal", extra=app), "outside|app")


def _layout_cases() -> Iterator[Case]:
    yield Case(
        "loose-in-specs", files={"specs/loose.yaml": document("loose").encode()}, expect="tenant"
    )
    yield Case(
        "tenant-folder-upper",
        files={"specs/Hostile_Upper/x.yaml": document("folder-upper").encode()},
        expect="DNS-1123",
    )
    yield Case(
        "tenant-folder-cyrillic",
        files={"specs/\u0430cme/x.yaml": document("folder-cyrillic", tenant="\u0430cme").encode()},
        expect="DNS-1123",
    )
    yield Case(
        "tenant-folder-space",
        files={"specs/a b/x.yaml": document("folder-space", tenant="a b").encode()},
        expect="DNS-1123",
    )
    yield Case(
        "binary-named-yaml",
        files={f"specs/{TENANT}/model.yaml": b"PK\x03\x04" + bytes(range(256)) * 4},
        expect="UTF-8",
    )
    yield Case(
        "link-out-of-repo",
        links={f"specs/{TENANT}/passwd.yaml": "/etc/passwd"},
        expect="symbolic link|symlink",
    )
    yield Case(
        "link-climbing",
        links={f"specs/{TENANT}/climb.yaml": "../../../../../../etc/hostname"},
        expect="symbolic link|symlink",
    )
    yield Case(
        "link-to-binary-in-repo",
        links={f"specs/{TENANT}/shard.yaml": "../../data/blob.bin"},
        files={"data/blob.bin": bytes(range(256))},
        at=f"specs/{TENANT}/shard.yaml",
        expect="symbolic link|UTF-8",
    )
    yield Case(
        "link-as-tenant-folder",
        links={"specs/linked": "/tmp"},
        expect="symbolic link|symlink",
    )
    yield Case("submodule-tenant", submodules=("specs/vendored",), expect="submodule")
    yield Case("submodule-as-spec", submodules=(f"specs/{TENANT}/sub.yaml",), expect="submodule")
    dup_a, dup_b = f"specs/{TENANT}/dup-a.yaml", f"specs/{TENANT}/dup-b.yaml"
    yield Case(
        "duplicate-name",
        files={dup_a: document("duplicated").encode(), dup_b: document("duplicated").encode()},
        at=dup_a,
        expect="also declared in specs/hostile/dup-b.yaml",
    )
    yield Case(
        "duplicate-name-yml",
        files={
            f"specs/{TENANT}/twin.yaml": document("twin").encode(),
            f"specs/{TENANT}/twin.YML": document("twin").encode(),
        },
        at=f"specs/{TENANT}/twin.YML",
        expect="also declared",
    )


def all_cases() -> list[Case]:
    return [
        *_yaml_cases(),
        *_name_cases(),
        *_tenant_cases(),
        *_uri_cases(),
        *_layout_cases(),
    ]


CASES = all_cases()
