"""Check a push webhook's signature and read what was pushed: pure functions, no server.

The daemon's HTTP endpoint passes the request headers and raw body to `verify_webhook`,
answers with `WebhookRejected.status` when it raises, and otherwise asks for a cycle
(events only make a cycle come sooner; the cycle itself is level-triggered).

Providers, told apart by their headers:
- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, `X-GitHub-Event`.
  Gitea (and Forgejo, Gogs) send the same two headers and come through here too.
- GitLab: `X-Gitlab-Token` equal to the shared secret, `X-Gitlab-Event`.
- generic: `X-Thunderline-Signature: sha256=<hex HMAC-SHA256 of the body>`.

Replays: `replay_keys` names what identifies a delivery (the provider's delivery id, and the
digest of a signed body that names a pushed revision); the daemon remembers the keys of the
deliveries it acted on and answers a repeat without asking for a cycle (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

MAX_BODY_BYTES = 1024 * 1024  # larger bodies are refused with 413 before any parsing
_GITHUB_MAX_COMMITS = 2048  # GitHub truncates `commits` at this many


class WebhookRejected(Exception):
    """The request must be refused with HTTP `status`; `reason` is safe to send back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class PushEvent:
    """An authenticated push.

    `paths` lists the files the pushed commits touched when the payload tells that
    completely, else None (unknown: force pushes, truncated commit lists, generic hooks).
    """

    ref: str
    after_revision: str
    provider: str  # "github" | "gitlab" | "generic"
    # The provider's delivery id, for logs and de-duplication: X-GitHub-Delivery (GitHub;
    # Gitea sends it too, and X-Gitea-Delivery), Idempotency-Key else X-Gitlab-Event-UUID
    # (GitLab), X-Thunderline-Delivery else Idempotency-Key (generic). Not signed.
    delivery: str = ""
    paths: frozenset[str] | None = None

    @property
    def branch(self) -> str | None:
        """The branch name for a branch push; None for tags or unknown refs."""
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None

    def only_under(self, folder: str) -> bool:
        """True when the push is known to touch nothing outside `folder` (such as the
        reconciler's own `status/` commits), so a cycle would find nothing new."""
        if not self.paths:
            return False
        prefix = folder.strip("/") + "/"
        return all(p.startswith(prefix) for p in self.paths)


def verify_webhook(headers: Mapping[str, str], body: bytes, *, secret: bytes) -> PushEvent | None:
    """Authenticate a webhook and return its push, or None for an authentic event that asks
    for nothing (a GitHub ping). Raises WebhookRejected: 413 too large, 401 missing or wrong
    signature, 400 unreadable payload or unsupported event, 503 no secret configured."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(413, f"body larger than {MAX_BODY_BYTES} bytes")
    if not secret:
        raise WebhookRejected(503, "webhook secret is not configured")
    lowered = {name.lower(): value for name, value in headers.items()}
    if "x-github-event" in lowered:
        return _github(lowered, body, secret)
    if "x-gitlab-event" in lowered or "x-gitlab-token" in lowered:
        return _gitlab(lowered, body, secret)
    if "x-thunderline-signature" in lowered:
        _check_hmac(lowered.get("x-thunderline-signature", ""), body, secret)
        return _generic(lowered, body)
    raise WebhookRejected(401, "no webhook signature")


def _github(headers: Mapping[str, str], body: bytes, secret: bytes) -> PushEvent | None:
    _check_hmac(headers.get("x-hub-signature-256", ""), body, secret)
    event = headers["x-github-event"].strip().lower()
    if event == "ping":
        return None
    if event != "push":
        raise WebhookRejected(400, f"unsupported GitHub event {event!r}")
    payload = _json_payload(body, headers.get("content-type", ""))
    commits = payload.get("commits")
    trustworthy = (
        isinstance(commits, list)
        and 0 < len(commits) < _GITHUB_MAX_COMMITS
        and not payload.get("forced")
        and not payload.get("created")
        and not payload.get("deleted")
    )
    return PushEvent(
        ref=_text(payload, "ref"),
        after_revision=_text(payload, "after"),
        provider="github",
        delivery=_first(headers, "x-github-delivery", "x-gitea-delivery", "x-gogs-delivery"),
        paths=_touched(commits) if trustworthy else None,
    )


def _gitlab(headers: Mapping[str, str], body: bytes, secret: bytes) -> PushEvent:
    token = headers.get("x-gitlab-token", "").encode("utf-8")
    if not token or not hmac.compare_digest(token, secret):
        raise WebhookRejected(401, "wrong GitLab token")
    event = headers.get("x-gitlab-event", "").strip().lower()
    if event not in ("push hook", "tag push hook"):
        raise WebhookRejected(400, f"unsupported GitLab event {event!r}")
    payload = _json_payload(body, "application/json")
    commits = payload.get("commits")
    total = payload.get("total_commits_count")
    complete = isinstance(commits, list) and commits and total == len(commits)
    return PushEvent(
        ref=_text(payload, "ref"),
        after_revision=_text(payload, "after"),
        provider="gitlab",
        # Idempotency-Key stays the same across GitLab's retries of one event (GitLab 17.4+).
        delivery=_first(headers, "idempotency-key", "x-gitlab-event-uuid"),
        paths=_touched(commits) if complete else None,
    )


def _generic(headers: Mapping[str, str], body: bytes) -> PushEvent:
    payload = _json_payload(body, "application/json") if body.strip() else {}
    return PushEvent(
        ref=_text(payload, "ref"),
        after_revision=_text(payload, "after"),
        provider="generic",
        delivery=_first(headers, "x-thunderline-delivery", "idempotency-key"),
    )


def replay_keys(event: PushEvent, body: bytes) -> tuple[bytes, ...]:
    """What identifies this delivery among all others, as fixed-size digests (so a huge
    header costs the daemon's memory nothing): the provider's delivery id when it sent one,
    and the signed body when it names a pushed revision. The delivery id header is not
    covered by any signature, so a captured body replayed under a fresh id is still caught
    by the body's digest; two different pushes never share a body (they differ in
    `before`, `after` or the push time). Empty: nothing tells this delivery from a replay
    (a generic hook without an id or a revision)."""
    keys = []
    if event.delivery:
        keys.append(_digest(b"delivery", event.provider.encode(), event.delivery.encode()))
    if event.after_revision:
        keys.append(_digest(b"body", event.provider.encode(), body))
    return tuple(keys)


def _digest(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


def _first(headers: Mapping[str, str], *names: str) -> str:
    """The first of `names` present with a non-blank value (headers lower-cased), stripped."""
    for name in names:
        value = headers.get(name, "").strip()
        if value:
            return value
    return ""


def _check_hmac(header: str, body: bytes, secret: bytes) -> None:
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        raise WebhookRejected(401, "missing or malformed signature")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise WebhookRejected(401, "signature does not match")


def _json_payload(body: bytes, content_type: str) -> dict[str, Any]:
    try:
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            text = parse_qs(body.decode("utf-8")).get("payload", [""])[0]
        else:
            text = body.decode("utf-8")
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, "payload is not valid JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "payload is not a JSON object")
    return payload


def _touched(commits: Any) -> frozenset[str] | None:
    paths: set[str] = set()
    for commit in commits:
        if not isinstance(commit, dict):
            return None
        for key in ("added", "modified", "removed"):
            listed = commit.get(key)
            if not isinstance(listed, list):
                return None
            paths.update(str(p) for p in listed)
    return frozenset(paths)


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key, "")
    return value if isinstance(value, str) else ""
