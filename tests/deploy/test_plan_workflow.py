"""deploy/ci/thunderline-plan.yml, the GitHub Actions workflow for spec repositories.

The file follows GitHub's workflow schema; its shell steps run here, with bash, against a
real spec repository and the real `reconciler` commands; its comment step talks to a fake
GitHub REST API on loopback, which shows it posts once and then updates that comment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.artefacts import DEPLOY, ROOT

WORKFLOW = DEPLOY / "ci" / "thunderline-plan.yml"
MARKER = "<!-- thunderline-plan -->"


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def steps() -> dict[str, dict[str, Any]]:
    return {s.get("name", s.get("uses", "")): s for s in workflow()["jobs"]["plan"]["steps"]}


@dataclass
class Runner:
    """A GitHub runner's environment for `run:` steps, around one spec repository."""

    repo: Path
    temp: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, step: str, **extra: str) -> subprocess.CompletedProcess[str]:
        script = steps()[step]["run"]
        if "${{" in script:
            raise AssertionError(f"step {step!r} puts an expression in its script: use env")
        env = {**os.environ, **workflow()["env"], **self.env, **extra}
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.repo, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def outputs(self) -> list[str]:
        """The exit-code outputs the steps wrote to $GITHUB_OUTPUT, in order."""
        lines = (self.temp / "output").read_text().splitlines()
        return [line.removeprefix("exit-code=") for line in lines]


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    repo = tmp_path / "specs-repo"
    shutil.copytree(ROOT / "specs", repo / "specs")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "specs"], cwd=repo, check=True)
    temp = tmp_path / "runner"
    temp.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(temp),
        "GITHUB_OUTPUT": str(temp / "output"),
        "GITHUB_STEP_SUMMARY": str(temp / "summary"),
    }
    return Runner(repo, temp, env)


def plan_steps(runner: Runner) -> tuple[subprocess.CompletedProcess[str], str]:
    for step in ("Validate specs", "Plan"):
        assert runner.run(step).returncode == 0, step  # these steps never fail by themselves
    validate, plan = runner.outputs()
    codes = {"VALIDATE_EXIT": validate, "PLAN_EXIT": plan}
    assert runner.run("Write the comment", **codes).returncode == 0
    return runner.run("Fail on invalid specs or plan errors", **codes), (
        runner.temp / "comment.md"
    ).read_text()


def test_the_workflow_follows_githubs_schema_and_asks_only_for_what_it_needs() -> None:
    from importlib.resources import files

    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "github-workflows.json"
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    wf = workflow()

    triggers = wf.pop(True)  # YAML 1.1 reads the key `on` as True; GitHub reads "on"

    assert [e.message for e in validator.iter_errors({"on": triggers, **wf})] == []
    assert triggers["pull_request"]["paths"][0] == "specs/**"
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert {s["uses"] for s in wf["jobs"]["plan"]["steps"] if "uses" in s} == {
        "actions/checkout@v4",
        "actions/setup-python@v5",
    }


def test_a_pull_request_with_changes_passes_and_comments_the_plan(runner: Runner) -> None:
    final, comment = plan_steps(runner)

    assert final.returncode == 0, final.stdout
    assert runner.outputs() == ["0", "1"]  # valid specs; the plan has changes
    assert comment.startswith(MARKER + "\n")
    assert "`acme/digits-fedavg`" in comment and "validate" not in comment
    assert (runner.temp / "summary").read_text() == comment


def test_an_invalid_spec_fails_the_check_and_the_comment_says_where(runner: Runner) -> None:
    spec = runner.repo / "specs" / "acme" / "digits-fedavg.yaml"
    spec.write_text(spec.read_text().replace("total: 5", "total: 0"))

    final, comment = plan_steps(runner)

    assert final.returncode == 1
    assert "::error::reconciler validate exited 1" in final.stdout
    assert comment.startswith(MARKER)
    assert "specs/acme/digits-fedavg.yaml:" in comment and "spec.rounds.total" in comment


def test_a_plan_that_cannot_be_computed_fails_with_its_error_in_the_comment(runner: Runner) -> None:
    final, comment = plan_steps(
        Runner(runner.repo, runner.temp, {**runner.env, "PLAN_AGAINST": "no-such-revision"})
    )

    assert final.returncode == 1
    assert "::error::reconciler plan exited 2" in final.stdout
    assert comment.startswith(MARKER + "\n### Thunderline plan failed")
    assert "reconciler plan:" in comment


# --- the comment step against a fake GitHub REST API -----------------------------------


class FakeGitHub(ThreadingHTTPServer):
    """Issue comments of one pull request, paginated like GitHub's (Link: rel="next")."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GitHubHandler)
        self.comments: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.tokens: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, body: str) -> dict[str, Any]:
        n = len(self.comments) + 1
        comment = {"id": 1000 + n, "body": body, "html_url": f"{self.url}/c/{1000 + n}"}
        self.comments.append(comment)
        return comment


class _GitHubHandler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any, link: str = "") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", link)
        self.end_headers()
        self.wfile.write(data)

    def _note(self) -> dict[str, Any] | None:
        self.server.calls.append(f"{self.command} {self.path.split('?')[0]}")
        self.server.tokens.add(self.headers.get("Authorization", ""))
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_GET(self) -> None:
        self._note()
        query = dict(p.split("=") for p in self.path.split("?", 1)[1].split("&"))
        per, page = int(query["per_page"]), int(query.get("page", "1"))
        chunk = self.server.comments[(page - 1) * per : page * per]
        more = page * per < len(self.server.comments)
        path = self.path.split("?")[0]
        link = (
            f'<{self.server.url}{path}?per_page={per}&page={page + 1}>; rel="next"' if more else ""
        )
        self._reply(200, chunk, link)

    def do_POST(self) -> None:
        body = self._note()
        assert body is not None
        self._reply(201, self.server.add(body["body"]))

    def do_PATCH(self) -> None:
        body = self._note()
        assert body is not None
        comment_id = int(self.path.rsplit("/", 1)[1])
        comment = next(c for c in self.server.comments if c["id"] == comment_id)
        comment["body"] = body["body"]
        self._reply(200, comment)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-github", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def post(runner: Runner, github: FakeGitHub, body: str) -> subprocess.CompletedProcess[str]:
    (runner.temp / "comment.md").write_text(body)
    return runner.run(
        "Post or update the PR comment",
        GITHUB_API_URL=github.url,
        GITHUB_REPOSITORY="acme/specs",
        GITHUB_TOKEN="ghs_test",
        PR_NUMBER="7",
    )


def test_the_first_run_posts_and_later_runs_update_the_same_comment(
    runner: Runner, github: FakeGitHub
) -> None:
    for n in range(130):  # the conversation so far: more than one page
        github.add(f"comment {n}")

    first = post(runner, github, f"{MARKER}\nplan one\n")
    second = post(runner, github, f"{MARKER}\nplan two\n")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    ours = [c for c in github.comments if c["body"].startswith(MARKER)]
    assert [c["body"] for c in ours] == [f"{MARKER}\nplan two\n"]
    assert "posted" in first.stdout and "updated" in second.stdout
    assert github.calls.count("POST /repos/acme/specs/issues/7/comments") == 1
    assert github.calls[-1] == f"PATCH /repos/acme/specs/issues/comments/{ours[0]['id']}"
    assert github.tokens == {"Bearer ghs_test"}


def test_an_oversized_plan_is_cut_below_githubs_limit(runner: Runner, github: FakeGitHub) -> None:
    result = post(runner, github, MARKER + "\n" + "x" * 70_000)

    assert result.returncode == 0, result.stderr
    assert len(github.comments[0]["body"]) < 65_536
    assert github.comments[0]["body"].startswith(MARKER)


def test_forks_skip_the_comment_but_keep_the_summary() -> None:
    condition = steps()["Post or update the PR comment"]["if"]

    assert re.fullmatch(
        r"github\.event\.pull_request\.head\.repo\.full_name == github\.repository", condition
    )


def test_the_install_step_builds_the_reconciler_from_its_repository_at_the_pinned_ref(
    runner: Runner, tmp_path: Path
) -> None:
    """Against a copy of this repository at its current commit, into a fresh venv; without
    the dependencies (PIP_NO_DEPS), which the wheel test installs."""
    remote = tmp_path / "reconciler.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(remote)], check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    pinned = {"RECONCILER_REPO": f"file://{remote}", "RECONCILER_REF": head}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    path = f"{venv / 'bin'}{os.pathsep}{runner.env['PATH']}"

    done = runner.run("Install the reconciler", PATH=path, PIP_NO_DEPS="1", **pinned)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully installed thunderline-reconciler-0.1.0" in done.stdout
    assert list((venv / "lib").glob("python3*/site-packages/reconciler/store/migrations/*.sql"))
    assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", workflow()["env"]["RECONCILER_REF"])
