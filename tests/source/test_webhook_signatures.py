"""Webhooks: authentic pushes are read, anything unsigned or wrongly signed is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from reconciler.source import MAX_BODY_BYTES, PushEvent, WebhookRejected, verify_webhook

SECRET = b"webhook-secret"
AFTER = "a" * 40


def _sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _push(**extra: Any) -> bytes:
    payload = {
        "ref": "refs/heads/main",
        "after": AFTER,
        "commits": [{"added": ["specs/t/a.yaml"], "modified": [], "removed": []}],
        **extra,
    }
    return json.dumps(payload).encode()


def test_github_push_with_a_valid_signature() -> None:
    body = _push()
    headers = {
        "x-github-event": "push",
        "X-Hub-Signature-256": _sign(body),
        "X-GitHub-Delivery": "d-1",
    }

    event = verify_webhook(headers, body, secret=SECRET)

    assert event == PushEvent(
        ref="refs/heads/main",
        after_revision=AFTER,
        provider="github",
        delivery="d-1",
        paths=frozenset({"specs/t/a.yaml"}),
    )
    assert event.branch == "main"
    assert not event.only_under("status")


def test_github_form_encoded_payload() -> None:
    body = urlencode({"payload": _push().decode()}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": _sign(body),
        "Content-Type": "application/x-www-form-urlencoded",
    }

    event = verify_webhook(headers, body, secret=SECRET)

    assert event is not None and event.after_revision == AFTER


def test_github_ping_is_accepted_as_a_no_op() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": _sign(body)}
    assert verify_webhook(headers, body, secret=SECRET) is None


def test_own_status_commit_is_recognisable() -> None:
    body = _push(commits=[{"added": [], "modified": ["status/t/a.yaml"], "removed": []}])
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body)}

    event = verify_webhook(headers, body, secret=SECRET)

    assert event is not None and event.only_under("status/")


@pytest.mark.parametrize("flag", ["forced", "created", "deleted"])
def test_github_push_whose_file_list_cannot_be_trusted(flag: str) -> None:
    body = _push(**{flag: True})
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body)}

    event = verify_webhook(headers, body, secret=SECRET)

    assert event is not None and event.paths is None and not event.only_under("status")


def test_gitlab_push_with_the_right_token() -> None:
    body = _push(total_commits_count=1)
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET.decode()}

    event = verify_webhook(headers, body, secret=SECRET)

    assert event is not None
    assert (event.provider, event.after_revision) == ("gitlab", AFTER)
    assert event.paths == frozenset({"specs/t/a.yaml"})


def test_gitlab_truncated_commit_list_means_unknown_paths() -> None:
    body = _push(total_commits_count=40)
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET.decode()}

    event = verify_webhook(headers, body, secret=SECRET)

    assert event is not None and event.paths is None


def test_generic_hmac() -> None:
    body = b'{"ref": "refs/heads/main", "after": "' + AFTER.encode() + b'"}'
    headers = {"X-Thunderline-Signature": _sign(body)}

    event = verify_webhook(headers, body, secret=SECRET)

    assert event == PushEvent(ref="refs/heads/main", after_revision=AFTER, provider="generic")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-GitHub-Event": "push"}, 401),
        ({"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64}, 401),
        ({"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha1=abc"}, 401),
        ({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}, 401),
        ({"X-Gitlab-Event": "Push Hook"}, 401),
        ({"X-Thunderline-Signature": "sha256=deadbeef"}, 401),
        ({"X-Gitlab-Event": "Issue Hook", "X-Gitlab-Token": SECRET.decode()}, 400),
    ],
)
def test_rejected(headers: dict[str, str], status: int) -> None:
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook(headers, _push(), secret=SECRET)
    assert caught.value.status == status


def test_signature_made_with_another_secret_is_rejected() -> None:
    body = _push()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body, b"other")}
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_webhook(headers, body, secret=SECRET)


def test_body_tampered_after_signing_is_rejected() -> None:
    body = _push()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": _sign(body)}
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook(headers, body.replace(b"main", b"evil"), secret=SECRET)
    assert caught.value.status == 401


def test_unsupported_github_event_and_bad_json() -> None:
    issues = b"{}"
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook(
            {"X-GitHub-Event": "issues", "X-Hub-Signature-256": _sign(issues)},
            issues,
            secret=SECRET,
        )
    assert caught.value.status == 400
    junk = b"not json"
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook({"X-Thunderline-Signature": _sign(junk)}, junk, secret=SECRET)
    assert caught.value.status == 400


def test_oversized_body_is_refused_before_anything_else() -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook({"X-Thunderline-Signature": _sign(body)}, body, secret=SECRET)
    assert caught.value.status == 413


def test_no_secret_configured_accepts_nothing() -> None:
    body = _push()
    headers = {"X-Thunderline-Signature": _sign(body, b"")}
    with pytest.raises(WebhookRejected) as caught:
        verify_webhook(headers, body, secret=b"")
    assert caught.value.status == 503
