"""Where a Git remote lives and how to authenticate to it, without ever storing a secret.

`GitRemote` turns what the operator gave (`--repo URL_OR_PATH`, a token variable name, an
ssh key file) into a clean URL for git's command line and the environment for one git
command. The https token is read from the environment at the moment of each command and
handed to git as an `http.<origin>.extraHeader` through GIT_CONFIG_* variables: it is never
written to `.git/config`, into a URL on disk, or into a message. Used by `GitSource` and by
`report.writer.StatusWriter`.
"""

from __future__ import annotations

import base64
import enum
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from reconciler.source.errors import SourceMisconfigured

# user@host:path or host:path (git's "scp-like" syntax): a colon before any slash.
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)")


class Transport(enum.Enum):
    HTTP = "http"
    SSH = "ssh"
    LOCAL = "local"  # a path or file:// URL
    OTHER = "other"  # git://, and anything git itself understands


@dataclass(frozen=True)
class GitRemote:
    """A remote repository plus its credentials' *sources* (never the credentials)."""

    url: str
    token_env: str = "GIT_TOKEN"
    token_user: str = "x-access-token"
    ssh_key: Path | None = None
    known_hosts: Path | None = None

    @property
    def transport(self) -> Transport:
        if "://" in self.url:
            scheme = urlsplit(self.url).scheme.lower()
            return {
                "http": Transport.HTTP,
                "https": Transport.HTTP,
                "ssh": Transport.SSH,
                "git+ssh": Transport.SSH,
                "ssh+git": Transport.SSH,
                "file": Transport.LOCAL,
            }.get(scheme, Transport.OTHER)
        if _SCP_LIKE.match(self.url) and not Path(self.url).exists():
            return Transport.SSH
        return Transport.LOCAL

    @property
    def fetch_url(self) -> str:
        """The URL handed to git: no password or token in it; local paths made absolute."""
        if "://" in self.url:
            return _without_password(urlsplit(self.url), keep_user=self.transport is Transport.SSH)
        if self.transport is Transport.LOCAL:
            return str(Path(self.url).expanduser().resolve())
        return self.url

    @property
    def display(self) -> str:
        """The remote as it may appear in messages and logs: no userinfo at all."""
        if "://" in self.url:
            return _without_password(urlsplit(self.url), keep_user=False)
        return self.fetch_url

    def secrets(self) -> tuple[str, ...]:
        """Strings to scrub from any text git printed: the token and the raw URL."""
        found = [self.url] if self.url != self.display else []
        token = self._token()
        if token:
            found.append(token)
        return tuple(found)

    def environment(self) -> dict[str, str]:
        """Environment variables for one git command talking to this remote."""
        if self.transport is Transport.HTTP:
            return self._http_env()
        if self.transport is Transport.SSH and self.ssh_key is not None:
            return {"GIT_SSH_COMMAND": self._ssh_command()}
        return {}

    def _token(self) -> str:
        from_env = os.environ.get(self.token_env, "") if self.token_env else ""
        if from_env:
            return from_env
        if "://" in self.url:
            return urlsplit(self.url).password or ""
        return ""

    def _http_env(self) -> dict[str, str]:
        token = self._token()
        if not token:
            return {}
        parts = urlsplit(self.url)
        user = self.token_user
        if not os.environ.get(self.token_env, "") and parts.username:
            user = parts.username  # credentials came from the URL: keep its user name
        basic = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return _config_env({f"http.{origin}/.extraHeader": f"Authorization: Basic {basic}"})

    def _ssh_command(self) -> str:
        assert self.ssh_key is not None
        if not self.ssh_key.is_file():
            raise SourceMisconfigured(f"ssh key file {self.ssh_key} does not exist")
        words = ["ssh", "-i", str(self.ssh_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
        if self.known_hosts is not None:
            words += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
            words += ["-o", "StrictHostKeyChecking=yes"]
        return shlex.join(words)


def _without_password(parts: SplitResult, *, keep_user: bool) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if parts.port:
        host += f":{parts.port}"
    if keep_user and parts.username:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _config_env(pairs: dict[str, str]) -> dict[str, str]:
    """Pass git config through GIT_CONFIG_COUNT/KEY/VALUE (git >= 2.31), appending to any
    the operator already set, so nothing lands in a config file or on the command line."""
    start = int(os.environ.get("GIT_CONFIG_COUNT", "0") or "0")
    env: dict[str, str] = {}
    for offset, (key, value) in enumerate(pairs.items()):
        env[f"GIT_CONFIG_KEY_{start + offset}"] = key
        env[f"GIT_CONFIG_VALUE_{start + offset}"] = value
    env["GIT_CONFIG_COUNT"] = str(start + len(pairs))
    return env
