"""The four kinds of service: each turns a notice into the HTTP request its receiver expects.

`Sender.request(notice, revision)` builds the request, reading the service's secrets from the
environment at that moment (never stored, never in a message); `Sender.accepts(answer)` says
whether an answer means "delivered". Commit-status senders need the revision the federation's
spec was loaded at (`needs_revision`); the others ignore it. `sender_for(config)` picks the
kind. Called by `reconciler.notify.delivery`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from reconciler.notify import messages
from reconciler.notify.config import ServiceConfig
from reconciler.notify.signing import DELIVERY_HEADER, signed_headers
from reconciler.notify.transport import Answer, Request
from reconciler.notify.triggers import Notice


class SecretMissing(Exception):
    """A variable the file names is not set any more; retried, as an outage would be."""


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SecretMissing(f"environment variable {name} is not set")
    return value


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class Sender:
    needs_revision = False

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config

    def request(self, notice: Notice, revision: str) -> Request:
        raise NotImplementedError

    def accepts(self, answer: Answer) -> bool:
        return answer.delivered


class WebhookSender(Sender):
    """The generic webhook: JSON signed over timestamp and body (`signing.py`)."""

    def request(self, notice: Notice, revision: str) -> Request:
        body = _json(messages.webhook_body(notice))
        key = _secret(self.config.signing_key_env).encode()
        headers = {**signed_headers(key, body), DELIVERY_HEADER: str(notice.event.id)}
        return Request(_secret(self.config.url_env), body, headers)


class SlackSender(Sender):
    def request(self, notice: Notice, revision: str) -> Request:
        return Request(_secret(self.config.url_env), _json(messages.slack_body(notice)))


class CommitStatusSender(Sender):
    """A status on the spec's commit; the forges differ in path, auth header and words."""

    needs_revision = True

    def fields(self, notice: Notice, revision: str) -> dict[str, str]:
        key = notice.event.key
        assert key is not None  # trigger_of() lets only federation events through
        names = {"tenant": key.tenant, "name": key.name}
        out = {
            "context": self.config.context.format_map(names),
            "state": messages.commit_state(notice),
            "description": messages.commit_description(notice, self.config.headline_metric),
        }
        if self.config.report_url:
            generation = str(notice.event.generation)
            values = {**names, "revision": revision, "generation": generation}
            out["target_url"] = self.config.report_url.format_map(values)
        return out


class GitHubStatusSender(CommitStatusSender):
    """POST /repos/{owner}/{repo}/statuses/{sha}, a bearer token."""

    def request(self, notice: Notice, revision: str) -> Request:
        url = f"{self.config.api_url}/repos/{self.config.repository}/statuses/{revision}"
        headers = {
            "Authorization": f"Bearer {_secret(self.config.token_env)}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return Request(url, _json(self.fields(notice, revision)), headers)


class GitLabStatusSender(CommitStatusSender):
    """POST /projects/:id/statuses/:sha, a PRIVATE-TOKEN header, GitLab's state words."""

    def request(self, notice: Notice, revision: str) -> Request:
        project = quote(self.config.repository, safe="")  # group/project -> group%2Fproject
        url = f"{self.config.api_url}/projects/{project}/statuses/{revision}"
        body = self.fields(notice, revision)
        body["name"] = body.pop("context")
        body["state"] = messages.GITLAB_STATES[body["state"]]
        headers = {"PRIVATE-TOKEN": _secret(self.config.token_env)}
        return Request(url, _json(body), headers)

    def accepts(self, answer: Answer) -> bool:
        # GitLab refuses to set a status to the state it already has ("Cannot transition
        # status via :run from :running"): the commit already shows what we meant to say.
        return answer.delivered or (answer.status == 400 and "Cannot transition" in answer.text)


_KINDS: Mapping[str, type[Sender]] = {
    "webhook": WebhookSender,
    "slack": SlackSender,
    "github": GitHubStatusSender,
    "gitlab": GitLabStatusSender,
}


def sender_for(config: ServiceConfig) -> Sender:
    return _KINDS[config.kind](config)
