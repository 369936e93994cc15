"""The console's routes: HTML pages at `/`, the same data as JSON under `/api/v1/`.

    GET  /                                   federations: ?tenant= &phase= &label= &q= &sort= &desc=1 &page=
    GET  /federations/{tenant}/{name}        one federation
    GET  /federations/{tenant}/{name}/logs   the tail of a run's Flower log (?run=ID; newest)
    GET  /compare?f=TENANT/NAME&f=...        metric curves of several federations on one chart
    GET  /plan                               what the next cycle would do at the current revision
    GET  /login, POST /login                 the token form (off loopback only)
    GET  /static/{console.css,console.js}    the shipped assets
    GET  /api/v1/federations[/{t}/{n}[/rounds|/events|/logs]], /api/v1/plan, /api/v1/openapi.json
    GET  /api/v1/events?after=ID&federation=NAME&limit=N   the outbox, oldest first, paged
    GET  /api/v1/status?name=NAME            what `reconciler status` lists (its --server)
    GET  /api/v1/events/stream               server-sent events: the outbox as it grows

Read-only: nothing here changes state (where a person would want a button, the page shows the
line to commit). Store reads and rendering run in the thread pool; the event stream holds its
connection for at most `STREAM_SECONDS` and `STREAM_EVENTS` events, then the browser's
EventSource reconnects from the last id it saw (Last-Event-ID), so nothing is missed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from reconciler.console import api, pages
from reconciler.console.access import COOKIE, Access
from reconciler.model import FederationKey, Phase
from reconciler.plan import Plan
from reconciler.report.model import FederationStatus
from reconciler.runtime.base import RuntimeFailure
from reconciler.serving import json_response, read_body
from reconciler.store import Event, Store
from reconciler.store.views import ListQuery

STREAM_SECONDS = 15.0  # one event-stream connection at most this long
STREAM_EVENTS = 500  # ... and at most this many events
STREAM_POLL = 0.25  # seconds between reads of the outbox: new rounds show within ~1 s
MAX_COMPARED = 8
LOG_TAIL = 200  # lines of a run's log a page shows
EVENTS_SHOWN = 200
OUTBOX_PAGE = 1000  # events one /api/v1/events answer holds at most  # a federation's newest events a page shows
LOGIN_BODY_LIMIT = 4096
LOGIN_BODY_SECONDS = 10.0
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
# Pages carry no secret, but they are the daemon's: no framing, no foreign scripts.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("reconciler.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Console:
    """What the console reads; the daemon fills it in."""

    store: Store
    access: Access
    statuses: Callable[[], Mapping[FederationKey, FederationStatus]] = dict
    plan: Callable[[], Plan | None] = lambda: None  # None: not known yet (no cycle ran)
    repo_url: str | None = None  # for links to spec files on a Git web host
    # a Flower run's log lines, by (run id, target); None: not known
    logs: Callable[[int, str], list[str]] | None = None
    clock: Callable[[], datetime] = field(default=_utcnow)


class BadQuery(ValueError):
    """A query string the console cannot answer: 400."""


def list_query(params: Mapping[str, str]) -> ListQuery:
    try:
        return ListQuery(
            tenant=params.get("tenant", "").strip(),
            phase=params.get("phase", "").strip(),
            label=params.get("label", "").strip(),
            text=params.get("q", "").strip(),
            sort=params.get("sort", "name") or "name",
            descending=params.get("desc", "") in ("1", "true"),
            page=int(params.get("page", "1") or 1),
            per_page=int(params.get("per_page", "50") or 50),
        )
    except ValueError as exc:
        raise BadQuery(str(exc)) from None


def _key(request: Request) -> FederationKey:
    return FederationKey(request.path_params["tenant"], request.path_params["name"])


async def _html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page, rendered in the thread pool: the event loop also serves progress reports."""
    body = await run_in_threadpool(_templates.get_template(template).render, **context)
    return HTMLResponse(body, status, headers=SECURITY_HEADERS)


def _api(status: int, body: Mapping[str, Any]) -> Response:
    return json_response(status, body, {"Cache-Control": "no-store"})


Endpoint = Callable[[Request], Awaitable[Response]]


def routes(console: Console) -> list[Route]:
    """The console's routes over `console`."""
    reads = _Reads(console)

    def guarded(endpoint: Endpoint, *, page: bool) -> Endpoint:
        async def checked(request: Request) -> Response:
            peer = request.client.host if request.client else None
            if console.access.allows(request.headers, request.cookies, peer):
                try:
                    return await endpoint(request)
                except BadQuery as exc:
                    if page:
                        return await _html("error.html", 400, title="Bad request", message=str(exc))
                    return _api(400, {"error": str(exc)})
            if page:
                return RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303)
            return json_response(401, {"error": "a console token is required"}, _CHALLENGE)

        return checked

    def page(path: str, endpoint: Endpoint) -> Route:
        return Route(path, guarded(endpoint, page=True), methods=["GET"])

    def api_route(path: str, endpoint: Endpoint) -> Route:
        return Route(path, guarded(endpoint, page=False), methods=["GET"])

    return [
        page("/", reads.list_page),
        page("/federations/{tenant}/{name}", reads.detail_page),
        page("/compare", reads.compare_page),
        page("/federations/{tenant}/{name}/logs", reads.logs_page),
        page("/plan", reads.plan_page),
        Route("/login", _login(console.access), methods=["GET", "POST"]),
        Route("/static/{file}", _static, methods=["GET"]),
        api_route("/api/v1/openapi.json", _openapi),
        api_route("/api/v1/federations", reads.list_api),
        api_route("/api/v1/federations/{tenant}/{name}", reads.detail_api),
        api_route("/api/v1/federations/{tenant}/{name}/rounds", reads.rounds_api),
        api_route("/api/v1/federations/{tenant}/{name}/events", reads.events_api),
        api_route("/api/v1/federations/{tenant}/{name}/logs", reads.logs_api),
        api_route("/api/v1/plan", reads.plan_api),
        api_route("/api/v1/events", reads.outbox_api),
        api_route("/api/v1/status", reads.status_api),
        api_route("/api/v1/events/stream", reads.stream),
    ]


def _newest_first(events: list[Event]) -> list[Event]:
    """The store hands recent events oldest first; the timeline shows the newest first."""
    return events[::-1]


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="thunderline-console"'}


class _Reads:
    """The endpoints: each reads in the thread pool, builds its page model, renders it."""

    def __init__(self, console: Console) -> None:
        self.c = console

    # --- models --------------------------------------------------------------------------

    def _list(self, query: ListQuery) -> pages.ListModel:
        return pages.list_model(self.c.store.federation_page(query), self.c.clock())

    def _detail(self, key: FederationKey) -> pages.Detail | None:
        store = self.c.store
        record = store.federation(key)
        if record is None:
            return None
        status = self.c.statuses().get(key)
        return pages.detail(
            record,
            rounds=store.rounds(key),
            events=_newest_first(store.recent_events(key, EVENTS_SHOWN)),
            generations=store.generations(key),
            runs=store.runs(key),
            artifacts=store.artifacts(key),
            conditions=status.conditions if status else (),
            revision=status.revision if status else "",
            repo_url=self.c.repo_url,
        )

    def _log_tail(self, key: FederationKey, wanted: str) -> pages.LogTail | None:
        """The tail of one of the federation's runs (the newest unless `wanted`); None when
        the federation is not recorded. Only its own runs: a run id is not a free query."""
        if self.c.store.federation(key) is None:
            return None
        targets = {r.run_id: r.target for r in self.c.store.runs(key)}
        runs = list(targets)
        if wanted and (not wanted.isdigit() or int(wanted) not in targets):
            raise BadQuery(f"{key} has no run {wanted!r}")
        run_id = int(wanted) if wanted else (runs[-1] if runs else None)
        if run_id is None or self.c.logs is None:
            note = "no Flower run yet" if run_id is None else "this daemon cannot read logs"
            return pages.LogTail(key, run_id, tuple(runs), (), note)
        try:
            lines = self.c.logs(run_id, targets[run_id])
        except RuntimeFailure as exc:
            return pages.LogTail(key, run_id, tuple(runs), (), f"Flower did not answer: {exc}")
        return pages.LogTail(key, run_id, tuple(runs), tuple(lines[-LOG_TAIL:]), "")

    def _plan(self) -> pages.PlanModel | None:
        plan = self.c.plan()
        return pages.plan_model(plan) if plan is not None else None

    # --- pages ---------------------------------------------------------------------------

    async def list_page(self, request: Request) -> Response:
        query = list_query(request.query_params)
        model, tenants = await run_in_threadpool(
            lambda: (self._list(query), self.c.store.tenants())
        )
        return await _html(
            "list.html",
            title="Federations",
            model=model,
            query=query,
            tenants=tenants,
            phases=[p.value for p in Phase],
            page_url=_page_url(request.query_params),
        )

    async def detail_page(self, request: Request) -> Response:
        key = _key(request)
        d = await run_in_threadpool(self._detail, key)
        if d is None:
            return await _html("error.html", 404, title="Not found", message=f"no federation {key}")
        return await _html("federation.html", title=str(key), d=d, key=key)

    async def compare_page(self, request: Request) -> Response:
        keys = _compared(request)
        charts = await run_in_threadpool(lambda: pages.compare_charts(self.c.store.rounds_of(keys)))
        return await _html(
            "compare.html",
            title="Compare",
            keys=keys,
            charts=charts,
            picked="\n".join(map(str, keys)),
        )

    async def logs_page(self, request: Request) -> Response:
        key = _key(request)
        tail = await run_in_threadpool(self._log_tail, key, request.query_params.get("run", ""))
        if tail is None:
            return await _html("error.html", 404, title="Not found", message=f"no federation {key}")
        return await _html("logs.html", title=f"{key} logs", tail=tail, key=key)

    async def plan_page(self, request: Request) -> Response:
        model = await run_in_threadpool(self._plan)
        return await _html("plan.html", title="Plan", model=model)

    # --- the API -------------------------------------------------------------------------

    async def list_api(self, request: Request) -> Response:
        query = list_query(request.query_params)
        model = await run_in_threadpool(self._list, query)
        return _api(200, api.list_json(model))

    async def detail_api(self, request: Request) -> Response:
        key = _key(request)
        d = await run_in_threadpool(self._detail, key)
        if d is None:
            return _api(404, {"error": f"no federation {key}"})
        return _api(200, api.detail_json(d))

    async def rounds_api(self, request: Request) -> Response:
        key = _key(request)
        rounds = (await run_in_threadpool(self.c.store.rounds_of, [key]))[key]
        if not rounds and not await run_in_threadpool(self._recorded, key):
            return _api(404, {"error": f"no federation {key}"})
        return _api(200, {"federation": str(key), "rounds": [api.round_json(r) for r in rounds]})

    async def events_api(self, request: Request) -> Response:
        key = _key(request)
        events = _newest_first(
            await run_in_threadpool(self.c.store.recent_events, key, EVENTS_SHOWN)
        )
        if not events and not await run_in_threadpool(self._recorded, key):
            return _api(404, {"error": f"no federation {key}"})
        return _api(200, {"federation": str(key), "events": [e.to_json() for e in events]})

    async def outbox_api(self, request: Request) -> Response:
        """The outbox after `after`, oldest first: what `reconciler events --server` pages."""
        params = request.query_params
        try:
            after = int(params.get("after", "0") or 0)
            limit = min(
                max(int(params.get("limit", str(OUTBOX_PAGE)) or OUTBOX_PAGE), 1), OUTBOX_PAGE
            )
        except ValueError:
            raise BadQuery("after and limit are whole numbers") from None
        federation = params.get("federation", "").strip() or None
        events = await run_in_threadpool(
            lambda: self.c.store.events(after_id=after, federation=federation, limit=limit)
        )
        return _api(200, {"events": [e.to_json() for e in events]})

    async def status_api(self, request: Request) -> Response:
        """`reconciler status`'s rows, specs without a federation and step errors."""
        name = request.query_params.get("name", "").strip() or None
        return _api(200, await run_in_threadpool(self._status, name))

    def _status(self, name: str | None) -> dict[str, Any]:
        store = self.c.store
        return {
            "federations": [r.to_json() for r in store.status_rows(name)],
            "specs": [s.to_json() for s in store.spec_findings(name)],
            "errors": [] if name else [e.to_json() for e in store.step_errors()],
        }

    def _recorded(self, key: FederationKey) -> bool:
        return self.c.store.federation(key) is not None

    async def logs_api(self, request: Request) -> Response:
        key = _key(request)
        tail = await run_in_threadpool(self._log_tail, key, request.query_params.get("run", ""))
        if tail is None:
            return _api(404, {"error": f"no federation {key}"})
        return _api(200, api.logs_json(tail))

    async def plan_api(self, request: Request) -> Response:
        return _api(200, api.plan_json(await run_in_threadpool(self._plan)))

    async def stream(self, request: Request) -> Response:
        start = request.headers.get("last-event-id") or request.query_params.get("after", "")
        if start.isdigit():
            after = int(start)
        else:  # a new reader: what comes next, not the history
            after = await run_in_threadpool(self.c.store.last_event_id)
        return StreamingResponse(
            self._events(after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _events(self, after: int) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SECONDS
        sent = 0
        yield f"retry: 500\nid: {after}\n\n"
        while loop.time() < deadline and sent < STREAM_EVENTS:
            events = await run_in_threadpool(
                self.c.store.events, after_id=after, limit=STREAM_EVENTS - sent
            )
            for e in events:
                data = {
                    "id": e.id,
                    "type": e.type,
                    "federation": str(e.key) if e.key else None,
                    "generation": e.generation,
                }
                yield f"id: {e.id}\nevent: fl\ndata: {json.dumps(data)}\n\n"
                after, sent = e.id, sent + 1
            if not events:
                yield ": idle\n\n"  # a comment: finds a client that went away
            await asyncio.sleep(STREAM_POLL)


def _compared(request: Request) -> list[FederationKey]:
    named = request.query_params.getlist("f")
    if not named and "federations" in request.query_params:
        named = request.query_params["federations"].split()
    keys = []
    for text in named:
        tenant, slash, name = text.strip().partition("/")
        if not slash or not tenant or not name:
            raise BadQuery(f"compare takes TENANT/NAME, not {text!r}")
        if FederationKey(tenant, name) not in keys:
            keys.append(FederationKey(tenant, name))
    if len(keys) > MAX_COMPARED:
        raise BadQuery(f"compare takes at most {MAX_COMPARED} federations")
    return keys


def _page_url(params: Mapping[str, str]) -> Callable[..., str]:
    """A link to the list with `changes` applied to the current query string."""

    def url(**changes: Any) -> str:
        merged = {**params, **{k: str(v) for k, v in changes.items()}}
        return "/?" + urlencode({k: v for k, v in merged.items() if v not in ("", "None")})

    return url


def _login(access: Access) -> Endpoint:
    """The token form: a correct token sets an HttpOnly cookie and returns to `next`."""

    async def login(request: Request) -> Response:
        target = _safe_next(request.query_params.get("next", "/"))
        if request.method != "POST":
            return await _html("login.html", title="Log in", target=target, wrong=False)
        body = await read_body(request, limit=LOGIN_BODY_LIMIT, timeout=LOGIN_BODY_SECONDS)
        form = parse_qs(body.decode("utf-8", "replace"))
        token = form.get("token", [""])[0]
        target = _safe_next(form.get("next", [target])[0])
        if not access.matches(token):
            return await _html("login.html", 401, title="Log in", target=target, wrong=True)
        response = RedirectResponse(target, 303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    return login


def _safe_next(target: str) -> str:
    """Only a path on this server: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def _static(request: Request) -> Response:
    name = request.path_params["file"]
    if name not in STATIC:
        return json_response(404, {"error": "not found"})
    data = (resources.files("reconciler.console") / "static" / name).read_bytes()
    return Response(data, 200, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"})


async def _openapi(request: Request) -> Response:
    data = (resources.files("reconciler.console") / "openapi.json").read_bytes()
    return Response(data, 200, media_type="application/json")
