"""Loopback fakes of GitHub's and GitLab's commit-status APIs (no forge is reachable here).

Each checks what the real API checks first, the path, the token and the body's words, and
keeps the statuses per (commit, context) in the order they were set. GitLab's fake also
refuses, as GitLab does, to set a status to the state it already has.
"""

from __future__ import annotations

import json
import re

from tests.notify.receiver import Receiver

SHA = re.compile(r"^[0-9a-f]{40}$")


class FakeForge(Receiver):
    prefix = ""
    states: frozenset[str] = frozenset()
    name_field = ""

    def __init__(self, token: str, project: str) -> None:
        super().__init__()
        self.token, self.project = token, project
        self.statuses: dict[tuple[str, str], list[dict[str, str]]] = {}

    def authorised(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int | tuple[int, bytes]:
        head, _, sha = path.rpartition("/statuses/")
        if head != self.prefix or not SHA.match(sha):
            return 404
        if not self.authorised(headers):
            return 401
        status = json.loads(body)
        if status.get("state") not in self.states or not status.get(self.name_field):
            return 422
        if len(status.get("description", "")) > 140:
            return 422
        return self.record(sha, status)

    def record(self, sha: str, status: dict[str, str]) -> int | tuple[int, bytes]:
        self.statuses.setdefault((sha, status[self.name_field]), []).append(status)
        return 201

    def states_of(self, sha: str, context: str) -> list[str]:
        return [s["state"] for s in self.statuses.get((sha, context), [])]


class FakeGitHub(FakeForge):
    states = frozenset({"error", "failure", "pending", "success"})
    name_field = "context"

    def __init__(self, token: str, project: str) -> None:
        super().__init__(token, project)
        self.prefix = f"/repos/{project}"

    def authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.token}"


class FakeGitLab(FakeForge):
    states = frozenset({"pending", "running", "success", "failed", "canceled"})
    name_field = "name"

    def __init__(self, token: str, project: str) -> None:
        super().__init__(token, project)
        self.prefix = "/api/v4/projects/" + project.replace("/", "%2F")

    def authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("private-token") == self.token

    def record(self, sha: str, status: dict[str, str]) -> int | tuple[int, bytes]:
        if self.states_of(sha, status["name"])[-1:] == [status["state"]]:
            message = f"Cannot transition status via :run from :{status['state']}"
            return 400, json.dumps({"message": message}).encode()
        return super().record(sha, status)
