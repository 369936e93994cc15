"""A hostile ClientApp, copied into a test app (tests/byoapp/test_apps_on_flower.py): it tries
to report progress with everything a participant can see (every run-config and node-config
value, every environment variable and the file any of them names), as a bearer token and as
the key to derive one from, within a time budget; then it trains like an honest client (its
reply is the model it got). What it tried and what the daemon answered go to a JSON file in
the folder named by the `probe-dir` run-config key."""

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from reconciler.runtime.progress import make_token

app = ClientApp()
BUDGET_SECONDS = 40.0
MAX_CANDIDATES = 400
FORGED = "forged by a ClientApp"


def _strings(value: object, out: set[str]) -> None:
    if isinstance(value, str):
        out.add(value)
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        if not isinstance(parsed, str):
            _strings(parsed, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.add(str(k))
            _strings(v, out)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out)
    elif value is not None:
        out.add(str(value))


def _candidates(context: Context) -> list[str]:
    seen: set[str] = set()
    _strings(dict(context.run_config), seen)
    _strings(dict(context.node_config), seen)
    for value in os.environ.values():
        seen.add(value)
        path = Path(value)
        try:
            if value.startswith("/") and path.is_file() and path.stat().st_size < 65536:
                seen.add(path.read_text().strip())
        except (OSError, UnicodeDecodeError):
            continue
    seen.discard("")
    return sorted(seen)[:MAX_CANDIDATES]


def _header_value(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _post(url: str, body: bytes, token: str) -> int:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return 0


def _probe(context: Context) -> dict[str, object]:
    control = json.loads(str(context.run_config["thunderline-control"]))
    identity = (control["federation"], control["generation"], control["attempt"], context.run_id)
    report = {
        "federation": identity[0],
        "generation": identity[1],
        "attempt": identity[2],
        "run_id": identity[3],
        "kind": "failed",
        "round": 0,
        "message": FORGED,
    }
    body = json.dumps(report).encode()
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + BUDGET_SECONDS
    tried = 0
    for candidate in _candidates(context):
        derived = make_token(candidate.encode(), *identity)
        # as a bearer token only where it can be one: HTTP refuses a header value with a line
        # break or outside ASCII before it is sent (e.g. a script a variable names), which
        # would count as a refusal the daemon never gave
        tokens = (candidate, derived) if _header_value(candidate) else (derived,)
        for token in tokens:
            if time.monotonic() > deadline:
                break
            status = _post(control["progress_url"], body, token)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            tried += 1
    return {"node": context.node_id, "tried": tried, "statuses": statuses}


@app.train()
def train_fn(msg: Message, context: Context) -> Message:
    found = _probe(context)
    folder = Path(str(context.run_config["probe-dir"]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"node-{context.node_id}.json").write_text(json.dumps(found))
    content = RecordDict(
        {"arrays": msg.content["arrays"], "metrics": MetricRecord({"num-examples": 1})}
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_fn(msg: Message, context: Context) -> Message:
    metrics = MetricRecord({"eval_loss": 0.0, "num-examples": 1})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
