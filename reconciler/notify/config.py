"""Read the operator's notifications file into a `NotifyConfig`, or say exactly what is wrong.

The file is YAML checked against `schema/notifications.schema.json`; its problems read like
spec problems (`FILE:LINE:COL: field: message`), as the tenant-policy file's do. Besides the
schema: a subscription may only name services the file defines, templates only known
placeholders, and every environment variable the file names must be set in the daemon's
process. Values of those variables are read when a notification is sent, never here, and no
message quotes one. A broken file stops `reconciler run` before anything starts. Called by
`reconciler.cli.run`.
"""

from __future__ import annotations

import functools
import json
import os
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reconciler.model import SpecProblem
from reconciler.notify import mlflowclient
from reconciler.specs.nodes import Path as NodePath
from reconciler.specs.nodes import field_name, locate
from reconciler.specs.schema import located_errors
from reconciler.specs.yamlsafe import Parsed, YamlRejected, parse_document

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

NOTIFICATIONS_SCHEMA_PATH = Path(__file__).parent / "notifications.schema.json"
COMMIT_STATUS_KINDS = ("github", "gitlab")
DEFAULT_API_URLS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
DEFAULT_CONTEXT = "thunderline/{tenant}/{name}"
DEFAULT_EXPERIMENT = "thunderline/{tenant}"
DEFAULT_STALLED_AFTER = 600.0  # seconds without round progress before a run is stalled
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}
_PLACEHOLDERS = {
    "context": frozenset({"tenant", "name"}),
    "experiment": frozenset({"tenant", "name"}),
    "reportUrl": frozenset({"tenant", "name", "revision", "generation"}),
}
_ENV_FIELDS = ("urlEnv", "signingKeyEnv", "tokenEnv")


class NotificationsInvalid(Exception):
    """The notifications file cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        text = "\n".join(str(p) for p in problems)
        super().__init__("the notifications file is invalid:\n" + text)
        self.problems = problems


@dataclass(frozen=True)
class ServiceConfig:
    """One place notifications go. `*_env` are names of environment variables, not values."""

    name: str
    kind: str  # webhook | slack | github | gitlab | mlflow
    url_env: str = ""
    signing_key_env: str = ""
    token_env: str = ""
    repository: str = ""
    api_url: str = ""
    context: str = DEFAULT_CONTEXT
    report_url: str = ""
    headline_metric: str = ""
    tracking_uri: str = ""  # mlflow: the tracking server
    experiment: str = DEFAULT_EXPERIMENT  # mlflow: the experiment's name, a template

    @property
    def commit_status(self) -> bool:
        return self.kind in COMMIT_STATUS_KINDS


@dataclass(frozen=True)
class Threshold:
    metric: str
    value: float
    above: bool  # True: fires when the metric rises above `value`; False: falls below it

    def holds(self, metrics: Mapping[str, Any]) -> bool:
        got = metrics.get(self.metric)
        if not isinstance(got, int | float) or isinstance(got, bool):
            return False
        return got > self.value if self.above else got < self.value

    def __str__(self) -> str:
        return f"{self.metric} {'>' if self.above else '<'} {self.value:g}"


@dataclass(frozen=True)
class Subscription:
    services: tuple[str, ...]
    events: frozenset[str] = frozenset()
    thresholds: tuple[Threshold, ...] = ()
    tenants: frozenset[str] | None = None  # None: every tenant
    labels: Mapping[str, str] | None = None  # None: any labels


@dataclass(frozen=True)
class NotifyConfig:
    services: tuple[ServiceConfig, ...]
    subscriptions: tuple[Subscription, ...]
    source: str  # the file, as named in messages
    stalled_after: float = DEFAULT_STALLED_AFTER  # seconds (`stalledAfter`)

    def subscriptions_of(self, service: str) -> tuple[Subscription, ...]:
        return tuple(s for s in self.subscriptions if service in s.services)

    def wants(self, trigger: str) -> bool:
        """Some subscription asks for `trigger` (so the notices behind it are raised)."""
        return any(trigger in s.events for s in self.subscriptions)


@functools.cache
def _validator() -> Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(NOTIFICATIONS_SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def load_notifications(path: Path, env: Mapping[str, str] | None = None) -> NotifyConfig:
    """The configuration in `path`; raises `NotificationsInvalid` listing every problem."""
    shown = path.as_posix()
    try:
        content = path.read_bytes()
    except OSError as exc:
        problem = SpecProblem(shown, 0, 0, "", f"cannot read: {exc.strerror}")
        raise NotificationsInvalid([problem]) from None
    return parse_notifications(content, shown, os.environ if env is None else env)


def parse_notifications(content: bytes, shown: str, env: Mapping[str, str]) -> NotifyConfig:
    """The configuration in `content` (named `shown` in messages), its variables in `env`."""
    try:
        parsed = parse_document(content)
    except YamlRejected as exc:
        problems = [SpecProblem(shown, f.line, f.column, f.field, f.message) for f in exc.findings]
        raise NotificationsInvalid(problems) from None
    found = [
        SpecProblem(shown, f.line, f.column, f.field, f.message)
        for f in located_errors(_validator().iter_errors(parsed.data), parsed.node)
    ]
    if not found:
        found = [SpecProblem(shown, *where) for where in _semantic_problems(parsed, env)]
    if found:
        raise NotificationsInvalid(sorted(found, key=lambda p: (p.line, p.column, p.field)))
    body: Mapping[str, Any] = parsed.data
    services = tuple(_service(name, entry) for name, entry in body["services"].items())
    subscriptions = tuple(_subscription(entry) for entry in body.get("subscriptions") or ())
    stalled_after = _seconds(body.get("stalledAfter", ""), DEFAULT_STALLED_AFTER)
    return NotifyConfig(services, subscriptions, source=shown, stalled_after=stalled_after)


def _semantic_problems(parsed: Parsed, env: Mapping[str, str]) -> Iterator[tuple[Any, ...]]:
    """(line, column, field, message) of what the schema cannot say."""
    body: Mapping[str, Any] = parsed.data
    services: Mapping[str, Any] = body["services"]
    for name, entry in services.items():
        if entry["type"] == "mlflow":
            yield from _mlflow_problems(parsed, name, entry)
        for key in _ENV_FIELDS:
            if key in entry and not env.get(entry[key]):
                message = f"environment variable {entry[key]} is not set (or empty)"
                yield _at(parsed, ("services", name, key), message)
        for key, allowed in _PLACEHOLDERS.items():
            unknown = _placeholders(entry.get(key, "")) - allowed
            if unknown:
                message = f"unknown placeholder {{{sorted(unknown)[0]}}} (known: {_known(allowed)})"
                yield _at(parsed, ("services", name, key), message)
    for i, entry in enumerate(body.get("subscriptions") or ()):
        for j, service in enumerate(entry["services"]):
            if service not in services:
                message = f"no service {service!r} is defined (defined: {_known(services)})"
                yield _at(parsed, ("subscriptions", i, "services", j), message)
            elif services[service]["type"] == "mlflow":
                message = f"{service!r} is an mlflow service: it tracks every federation"
                yield _at(parsed, ("subscriptions", i, "services", j), message)
        for j, threshold in enumerate(entry.get("thresholds") or ()):
            if ("above" in threshold) == ("below" in threshold):
                message = "give exactly one of above and below"
                yield _at(parsed, ("subscriptions", i, "thresholds", j), message)


def _mlflow_problems(
    parsed: Parsed, name: str, entry: Mapping[str, Any]
) -> Iterator[tuple[Any, ...]]:
    if not mlflowclient.installed():
        message = "mlflow is not installed: pip install 'thunderline-reconciler[mlflow]'"
        yield _at(parsed, ("services", name, "type"), message)
    if "@" in urlsplit(entry["trackingUri"]).netloc:  # never quoted: it holds a password
        message = "must not hold credentials: set MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN"
        yield _at(parsed, ("services", name, "trackingUri"), message)


def _at(parsed: Parsed, path: NodePath, message: str) -> tuple[Any, ...]:
    return (*locate(parsed.node, path), field_name(path), message)


def _known(names: Any) -> str:
    return ", ".join(sorted(names))


def _placeholders(template: str) -> set[str]:
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError:  # an unmatched brace: report it like an unknown placeholder
        return {"(unmatched brace)"}


def _service(name: str, entry: Mapping[str, Any]) -> ServiceConfig:
    kind = entry["type"]
    return ServiceConfig(
        name=name,
        kind=kind,
        url_env=entry.get("urlEnv", ""),
        signing_key_env=entry.get("signingKeyEnv", ""),
        token_env=entry.get("tokenEnv", ""),
        repository=entry.get("repository", ""),
        api_url=entry.get("apiUrl", DEFAULT_API_URLS.get(kind, "")).rstrip("/"),
        context=entry.get("context", DEFAULT_CONTEXT),
        report_url=entry.get("reportUrl", ""),
        headline_metric=entry.get("headlineMetric", ""),
        tracking_uri=entry.get("trackingUri", "").rstrip("/"),
        experiment=entry.get("experiment", DEFAULT_EXPERIMENT),
    )


def _seconds(duration: str, default: float) -> float:
    """`90s`, `10m`, `1h` in seconds (the schema checked the form); `default` when absent."""
    if not duration:
        return default
    return float(int(duration[:-1]) * _DURATION_UNITS[duration[-1]])


def _subscription(entry: Mapping[str, Any]) -> Subscription:
    tenants = entry.get("tenants")
    return Subscription(
        services=tuple(entry["services"]),
        events=frozenset(entry.get("events") or ()),
        thresholds=tuple(_threshold(t) for t in entry.get("thresholds") or ()),
        tenants=frozenset(tenants) if tenants is not None else None,
        labels=dict(entry["labels"]) if "labels" in entry else None,
    )


def _threshold(entry: Mapping[str, Any]) -> Threshold:
    above = "above" in entry
    return Threshold(entry["metric"], float(entry["above" if above else "below"]), above)
