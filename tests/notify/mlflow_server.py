"""A real MLflow tracking server on loopback (`mlflow server`, sqlite backend), and its REST API.

`MlflowServer.running(folder)` starts the venv's `mlflow server` on a free port (its job
runner off: nothing here needs it), waits for `/health` (bounded: a busy machine takes a
minute to import it), and ends the process tree afterwards. `runs`, `metric_steps` read
back what the daemon exported, through the same REST API any MLflow user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reconciler.runtime.local import end_tree, free_port, venv_bin

START_TIMEOUT = 240.0  # seconds: importing the server takes most of it under load


class MlflowServer:
    def __init__(self, url: str) -> None:
        self.url = url

    @classmethod
    @contextmanager
    def running(cls, folder: Path, port: int | None = None) -> Iterator[MlflowServer]:
        port = port or free_port()
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        log = (folder / "mlflow-server.log").open("wb")
        proc = subprocess.Popen(
            [
                str(venv_bin() / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{folder / 'mlflow.db'}",
                "--default-artifact-root",
                str(folder / "mlflow-artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        server = cls(f"http://127.0.0.1:{port}")
        try:
            server._wait_healthy(proc, folder)
            yield server
        finally:
            end_tree(proc)
            log.close()

    def _wait_healthy(self, proc: subprocess.Popen[bytes], folder: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(folder / 'mlflow-server.log')}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"mlflow server not healthy within {START_TIMEOUT:.0f} s")

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET (no body) or POST `/api/2.0/mlflow/<path>`; the JSON answer."""
        url = f"{self.url}/api/2.0/mlflow/{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def runs(self, experiment: str) -> list[dict[str, Any]]:
        """Every run of the experiment named `experiment`, with its tags as a dict."""
        found = self.call(f"experiments/get-by-name?experiment_name={quote(experiment)}")
        answer = self.call(
            "runs/search", {"experiment_ids": [found["experiment"]["experiment_id"]]}
        )
        runs = answer.get("runs", [])
        for run in runs:
            run["tags"] = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
            run["params"] = {p["key"]: p["value"] for p in run["data"].get("params", [])}
        return list(runs)

    def metric_steps(self, run_id: str, metric: str) -> list[tuple[int, float]]:
        """(step, value) of every logged point of `metric`, by step."""
        answer = self.call(f"metrics/get-history?run_id={run_id}&metric_key={metric}")
        points = answer.get("metrics", [])
        return sorted((int(p["step"]), float(p["value"])) for p in points)
