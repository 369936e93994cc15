"""How a remote URL is shown, fetched and authenticated (no network)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from reconciler.source import SourceMisconfigured
from reconciler.source.remote import GitRemote, Transport


@pytest.mark.parametrize(
    ("url", "transport", "display"),
    [
        ("https://user:tok@github.com/o/r.git", Transport.HTTP, "https://github.com/o/r.git"),
        ("https://github.com:8443/o/r.git", Transport.HTTP, "https://github.com:8443/o/r.git"),
        ("ssh://git@host/o/r.git", Transport.SSH, "ssh://host/o/r.git"),
        ("git@github.com:o/r.git", Transport.SSH, "git@github.com:o/r.git"),
        ("git://127.0.0.1:9418/r.git", Transport.OTHER, "git://127.0.0.1:9418/r.git"),
        ("file:///srv/r.git", Transport.LOCAL, "file:///srv/r.git"),
        ("/srv/r.git", Transport.LOCAL, "/srv/r.git"),
    ],
)
def test_transport_and_display(url: str, transport: Transport, display: str) -> None:
    remote = GitRemote(url)
    assert remote.transport is transport
    assert remote.display == display


def test_ssh_url_keeps_the_user_but_drops_a_password() -> None:
    assert GitRemote("ssh://git:pw@host/r.git").fetch_url == "ssh://git@host/r.git"


def test_relative_local_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert GitRemote("repo").fetch_url == str(tmp_path / "repo")


def test_ssh_key_becomes_a_batch_mode_ssh_command(tmp_path: Path) -> None:
    key, hosts = tmp_path / "id ed25519", tmp_path / "known_hosts"
    key.write_text("not really a key\n")

    env = GitRemote("git@host:o/r.git", ssh_key=key, known_hosts=hosts).environment()

    words = shlex.split(env["GIT_SSH_COMMAND"])
    assert words[:3] == ["ssh", "-i", str(key)]
    assert "IdentitiesOnly=yes" in words and "BatchMode=yes" in words
    assert f"UserKnownHostsFile={hosts}" in words


def test_missing_ssh_key_needs_a_person(tmp_path: Path) -> None:
    remote = GitRemote("git@host:o/r.git", ssh_key=tmp_path / "absent")
    with pytest.raises(SourceMisconfigured, match="absent"):
        remote.environment()


def test_token_header_is_scoped_to_the_origin_and_appended_to_operator_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_TOKEN", "t0k")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")

    env = GitRemote("https://example.com/o/r.git").environment()

    assert env["GIT_CONFIG_COUNT"] == "2"
    assert env["GIT_CONFIG_KEY_1"] == "http.https://example.com/.extraHeader"
    assert env["GIT_CONFIG_VALUE_1"].startswith("Authorization: Basic ")
    assert "t0k" in GitRemote("https://example.com/o/r.git").secrets()


def test_no_token_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIT_TOKEN", raising=False)
    assert GitRemote("https://example.com/o/r.git").environment() == {}
