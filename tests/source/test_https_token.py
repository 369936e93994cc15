"""An https-style token reaches the server as a header and is stored nowhere.

The server is git's own `http-backend` (CGI) behind a small loopback HTTP server that
demands `Authorization: Basic x-access-token:<token>`, as GitHub does.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconciler.source import GitSource, SourceUnavailable
from tests.source.gitutil import make_remote

pytestmark = pytest.mark.git

TOKEN = "ghp_test-token-0123456789"
EXPECTED = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


class _GitHttp(BaseHTTPRequestHandler):
    project_root = Path()
    seen_authorization: list[str] = []

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        given = self.headers.get("Authorization", "")
        self.seen_authorization.append(given)
        if given != EXPECTED:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or "0"))
        env = {
            "GIT_PROJECT_ROOT": str(self.project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "REMOTE_ADDR": "127.0.0.1",
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=30
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        headers = [line.split(": ", 1) for line in head.decode().split("\r\n") if line]
        status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "status":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def http_remote(tmp_path: Path) -> Iterator[str]:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": "kind: FederationSpec\n"})
    _GitHttp.project_root = remote.bare.parent
    _GitHttp.seen_authorization = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GitHttp)
    thread = threading.Thread(target=server.serve_forever, name="git-http-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{remote.bare.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_token_from_the_environment_authenticates(
    tmp_path: Path, http_remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_TOKEN", TOKEN)
    source = GitSource(http_remote, tmp_path / "work")

    snapshot = source.fetch()

    assert (snapshot.root / "specs/t/a.yaml").exists()
    assert EXPECTED in _GitHttp.seen_authorization
    stored = b"".join(p.read_bytes() for p in (tmp_path / "work/.git").rglob("*") if p.is_file())
    assert TOKEN.encode() not in stored
    assert EXPECTED.encode() not in stored


def test_token_read_at_fetch_time_and_wrong_token_is_unavailable(
    tmp_path: Path, http_remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = GitSource(http_remote, tmp_path / "work", token_env="REPO_TOKEN")
    monkeypatch.setenv("REPO_TOKEN", "wrong-token")

    with pytest.raises(SourceUnavailable) as caught:
        source.fetch()
    assert "wrong-token" not in str(caught.value)

    monkeypatch.setenv("REPO_TOKEN", TOKEN)  # rotated without a restart
    assert source.fetch().revision


def test_token_given_in_the_url_is_moved_into_the_header(tmp_path: Path, http_remote: str) -> None:
    with_token = http_remote.replace("http://", f"http://x-access-token:{TOKEN}@")
    source = GitSource(with_token, tmp_path / "work")

    source.fetch()

    assert source.display_url == http_remote
    assert TOKEN not in (tmp_path / "work/.git/config").read_text()
    assert EXPECTED in _GitHttp.seen_authorization
