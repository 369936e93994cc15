"""Commit statuses on the spec's commit, against loopback fakes of GitHub's and GitLab's APIs:
pending while the federation runs, then success or failure, with a one-line summary and a
link to the status report."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.notify import Notifier, revision_in
from reconciler.report import FederationStatus
from reconciler.store import Store
from tests.notify.conftest import eventually, run_federation, sent_count
from tests.notify.forges import FakeForge, FakeGitHub, FakeGitLab
from tests.store.conftest import make_spec, walk

pytestmark = pytest.mark.pg

SPEC_COMMIT = "3f786850e387550fdab836ed7e6dc881de23001b"
TOKEN = "forge-token-for-tests"
ALL_EVENTS = "[created, started, round, paused, resumed, completed, failed, stopped]"


def config(kind: str, api_url: str, repository: str) -> str:
    return f"""\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
services:
  forge:
    type: {kind}
    repository: {repository}
    tokenEnv: TEST_FORGE_TOKEN
    apiUrl: {api_url}
    headlineMetric: accuracy
    reportUrl: https://forge.example/specs/blob/{{revision}}/status/{{tenant}}/{{name}}.md
subscriptions:
  - services: [forge]
    events: {ALL_EVENTS}
"""


def at_spec_commit(key: FederationKey, generation: int) -> str | None:
    return SPEC_COMMIT if generation == 1 else ""


@pytest.fixture(params=["github", "gitlab"])
def forge(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeForge]:
    fake: FakeForge = (
        FakeGitHub(TOKEN, "okocorp/fl-specs")
        if request.param == "github"
        else FakeGitLab(TOKEN, "okocorp/fl-specs")
    )
    monkeypatch.setenv("TEST_FORGE_TOKEN", TOKEN)
    with fake.running():
        yield fake


def _start(forge: FakeForge, notifier_on: Callable[..., Notifier], **kw: object) -> Notifier:
    kind = "github" if isinstance(forge, FakeGitHub) else "gitlab"
    api = forge.url if kind == "github" else f"{forge.url}/api/v4"
    return notifier_on(config(kind, api, "okocorp/fl-specs"), revision_of=at_spec_commit, **kw)


def test_a_completed_federation_goes_pending_then_success_on_its_commit(
    store: Store, forge: FakeForge, notifier_on: Callable[..., Notifier]
) -> None:
    notifier = _start(forge, notifier_on)
    run_federation(store, "chat", [{"accuracy": 0.5}, {"accuracy": 0.91234, "loss": 0.2}])

    context = "thunderline/acme/chat"
    eventually(lambda: forge.states_of(SPEC_COMMIT, context)[-1:] in (["success"],))
    states = forge.states_of(SPEC_COMMIT, context)
    running = "pending" if isinstance(forge, FakeGitHub) else "running"
    assert set(states[:-1]) == {running} and states[-1] == "success"
    assert all(r.status in (201, 400) for r in forge.received)  # path, token, words all right
    final = forge.statuses[(SPEC_COMMIT, context)][-1]
    assert final["description"] == "completed; round 2/3, accuracy=0.9123 (generation 1)"
    assert final["target_url"] == (
        f"https://forge.example/specs/blob/{SPEC_COMMIT}/status/acme/chat.md"
    )
    metrics = notifier.metrics  # type: ignore[attr-defined]
    assert sent_count(metrics, "forge", "refused") == 0


def test_a_failed_federation_ends_in_failure(
    store: Store, forge: FakeForge, notifier_on: Callable[..., Notifier]
) -> None:
    _start(forge, notifier_on)
    created = store.create(make_spec("doomed", "acme"))
    walk(store, created.key, Phase.STARTING)
    store.transition(
        created.key, Phase.FAILED, expected_version=store.get(created.key).version,
        reason="the SuperLink lost the run",
    )  # fmt: skip

    failed = "failure" if isinstance(forge, FakeGitHub) else "failed"
    context = "thunderline/acme/doomed"
    eventually(lambda: forge.states_of(SPEC_COMMIT, context)[-1:] == [failed])


def test_a_wrong_token_is_refused_for_good_and_counted(
    store: Store, forge: FakeForge, notifier_on: Callable[..., Notifier],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    forge.token = "the token the forge expects"
    notifier = _start(forge, notifier_on)
    store.create(make_spec("unauthorised", "acme"))

    metrics = notifier.metrics  # type: ignore[attr-defined]
    eventually(lambda: sent_count(metrics, "forge", "refused") == 1)
    assert [r.status for r in forge.received] == [401]


def test_the_revision_comes_from_the_status_of_the_same_generation() -> None:
    key = FederationKey("acme", "chat")
    status = FederationStatus(key, "specs/acme/chat.yaml", Phase.RUNNING, generation=2,
                              revision=SPEC_COMMIT)  # fmt: skip

    assert revision_in(None, key, 2) is None  # no report yet: wait
    assert revision_in({}, key, 2) is None  # not reported yet: wait
    assert revision_in({key: status}, key, 3) is None  # the report is behind: wait
    assert revision_in({key: status}, key, 2) == SPEC_COMMIT
    assert revision_in({key: status}, key, 1) == ""  # replaced: nothing to put it on


def test_a_status_goes_on_the_commit_that_changed_the_spec_asked_once() -> None:
    from reconciler.notify.revisions import SpecCommits
    from reconciler.source import SourceUnavailable

    asked: list[tuple[str, str]] = []

    def last_change(revision: str, path: str) -> str:
        asked.append((revision, path))
        if revision == "gone":
            raise SourceUnavailable("no such commit")
        return "c0ffee"

    commits = SpecCommits(last_change)

    assert commits("specs/acme/chat.yaml", "head1") == "c0ffee"
    assert commits("specs/acme/chat.yaml", "head1") == "c0ffee"
    assert commits("specs/acme/chat.yaml", "gone") == "gone"  # Git cannot say: as loaded
    assert commits("specs/acme/chat.yaml", "") == ""  # no revision: nothing to ask
    assert asked == [("head1", "specs/acme/chat.yaml"), ("gone", "specs/acme/chat.yaml")]
