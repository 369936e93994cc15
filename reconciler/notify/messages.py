"""What each kind of service is sent for a notice: pure, no I/O, no secrets.

`summary` is the one line every kind shows ("coop/chat completed: round 10/10,
accuracy=0.9312"); `webhook_body` the signed generic webhook's JSON, `slack_body` Slack's
incoming-webhook JSON, `commit_state` and `commit_description` what a commit status says.
Called by `reconciler.notify.services`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.notify.triggers import Notice

# The trigger -> the commit state: pending while the federation may still run.
_FINAL_STATES = {
    "completed": "success",
    "failed": "failure",
    "stopped": "error",
    "invalid": "failure",  # the commit broke the spec: nothing runs until it is fixed
}
GITLAB_STATES = {
    "pending": "running",
    "success": "success",
    "failure": "failed",
    "error": "canceled",
}
_SAYS_WHY = frozenset({"invalid", "stalled"})  # triggers whose description gives the reason
DESCRIPTION_LIMIT = 140  # GitHub refuses longer descriptions


def headline_metric(metrics: Mapping[str, Any], name: str = "") -> str:
    """`accuracy=0.9312`: the named metric, else the first by name; "" without metrics."""
    chosen = name if name in metrics else min(metrics, default="")
    if not chosen:
        return ""
    value = metrics[chosen]
    return f"{chosen}={value:.4g}" if isinstance(value, float) else f"{chosen}={value}"


def progress(notice: Notice, metric_name: str = "") -> str:
    """`round 3/10, accuracy=0.9312`, or "" before the first round."""
    facts = notice.facts
    if facts.round < 1:
        return ""
    of = f"/{facts.total_rounds}" if facts.total_rounds else ""
    metric = headline_metric(facts.metrics, metric_name)
    return f"round {facts.round}{of}" + (f", {metric}" if metric else "")


def summary(notice: Notice, metric_name: str = "") -> str:
    """One line: what happened to which federation, how far it got, and why it fired."""
    event = notice.event
    what = "round completed" if notice.trigger == "round" else notice.trigger
    reason = event.payload.get("reason")
    parts = [p for p in (progress(notice, metric_name), str(reason) if reason else "") if p]
    line = f"{event.key} {what}" + (f": {'; '.join(parts)}" if parts else "")
    if notice.crossed:
        line += " (crossed " + ", ".join(str(t) for t in notice.crossed) + ")"
    return line


def webhook_body(notice: Notice) -> dict[str, Any]:
    event, facts = notice.event, notice.facts
    return {
        "delivery": event.id,  # the same on every retry: receivers drop what they already have
        "trigger": notice.trigger,
        "summary": summary(notice),
        "thresholds": [
            {"metric": t.metric, ("above" if t.above else "below"): t.value} for t in notice.crossed
        ],
        "federation": {
            "tenant": event.key.tenant if event.key else None,
            "name": event.key.name if event.key else None,
            "generation": event.generation,
            "labels": dict(facts.labels),
            "round": facts.round,
            "totalRounds": facts.total_rounds,
            "metrics": dict(facts.metrics),
        },
        "event": event.to_json(),
    }


def slack_body(notice: Notice) -> dict[str, Any]:
    """Slack's incoming-webhook format: `text` (the fallback) and one mrkdwn section."""
    text = summary(notice)
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(text)}}],
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup; everything else is shown as it is.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def commit_state(notice: Notice) -> str:
    """GitHub's state word (pending, success, failure, error); GitLab's via GITLAB_STATES."""
    return _FINAL_STATES.get(notice.trigger, "pending")


def commit_description(notice: Notice, metric_name: str = "") -> str:
    event = notice.event
    why = event.payload.get("reason") if notice.trigger in _SAYS_WHY else None
    parts = (notice.trigger, progress(notice, metric_name), str(why or ""))
    text = "; ".join(p for p in parts if p)
    if event.generation is not None:  # an invalid spec may have no federation
        text += f" (generation {event.generation})"
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"
