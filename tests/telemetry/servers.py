"""Real telemetry servers for the tests: a Prometheus server and a rotel OTLP collector.

Each is started on free loopback ports in a temporary folder and stopped by the fixture
that made it (tests/telemetry/conftest.py). Waits are bounded; a server that cannot be
found or started is reported through `missing_service` (skip locally, fail under CI=true).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import missing_service
from tests.source.gitutil import free_port

HOST = "127.0.0.1"
START_TIMEOUT = 20.0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            missing_service(f"{url} server exited with {proc.returncode}: {log.read_text()[-500:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return
        time.sleep(0.2)
    _stop(proc)
    missing_service(f"server did not answer at {url} within {START_TIMEOUT:.0f} s")


# --- Prometheus ---------------------------------------------------------------------------


@dataclass
class Prometheus:
    proc: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(cls, workdir: Path, targets: list[str]) -> Prometheus:
        """A Prometheus scraping `targets` ("host:port", path /metrics) every second."""
        binary = shutil.which("prometheus")
        if binary is None:
            missing_service(
                "no prometheus binary (Debian package `prometheus`; .ci/run installs it)"
            )
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: thunderline\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n"
        )
        address = f"{HOST}:{free_port()}"
        log = workdir / "prometheus.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    str(binary),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address={address}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = cls(proc, f"http://{address}")
        _wait_http(f"{server.url}/-/ready", proc, log)
        return server

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector for `promql` (a list of {metric: labels, value: [t, v]})."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until the query returns at least one series; [] after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.query(promql):
                return found
            time.sleep(0.5)
        return []

    def stop(self) -> None:
        _stop(self.proc)


# --- rotel (OTLP collector) ---------------------------------------------------------------


@dataclass
class SpanDump:
    """One span as rotel's detailed debug log prints it."""

    name: str = ""
    trace_id: str = ""
    span_id: str = ""
    parent_id: str = ""
    status: str = ""
    service: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


def _attribute(line: str) -> tuple[str, str]:
    """`-> round_num: Int(2)` -> ("round_num", "2")."""
    key, _, typed = line.removeprefix("->").strip().partition(": ")
    _, _, value = typed.partition("(")
    return key, value.removesuffix(")")


def parse_spans(text: str) -> list[SpanDump]:
    """Every span in rotel's `--debug-log traces --debug-log-verbosity detailed` output."""
    spans: list[SpanDump] = []
    service, section = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Resource attributes:"):
            section = "resource"
        elif line.startswith("Span #"):
            spans.append(SpanDump(service=service))
            section = "span"
        elif line.startswith("Attributes:") and spans and section == "span":
            section = "attributes"
        elif line.startswith(("Events:", "Links:", "ScopeSpans", "ResourceSpans")):
            section = ""
        elif line.startswith("->") and section == "resource":
            key, value = _attribute(line)
            service = value if key == "service.name" else service
        elif line.startswith("->") and section == "attributes":
            key, value = _attribute(line)
            spans[-1].attributes[key] = value
        elif section == "span" and ":" in line:
            _span_field(spans[-1], line)
    return spans


def _span_field(span: SpanDump, line: str) -> None:
    label, _, value = line.partition(":")
    value = value.strip()
    match label.strip():
        case "Trace ID":
            span.trace_id = value
        case "Parent ID":
            span.parent_id = value
        case "ID":
            span.span_id = value
        case "Name":
            span.name = value
        case "Status code":
            span.status = value


@dataclass
class Rotel:
    proc: subprocess.Popen[bytes]
    grpc: str  # host:port
    http: str  # http://host:port
    log: Path

    @classmethod
    def start(cls, workdir: Path) -> Rotel:
        spec = importlib.util.find_spec("rotel")
        if spec is None or spec.origin is None:
            missing_service("the rotel OTLP collector is not installed (pip install rotel)")
        binary = Path(spec.origin).parent / "rotel-agent"  # type: ignore[union-attr]
        workdir.mkdir(parents=True, exist_ok=True)
        grpc, http = f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"
        log = workdir / "rotel.out"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    str(binary),
                    "start",
                    "--otlp-grpc-endpoint",
                    grpc,
                    "--otlp-http-endpoint",
                    http,
                    "--exporter",
                    "blackhole",
                    "--debug-log",
                    "traces",
                    "--debug-log-verbosity",
                    "detailed",
                    "--pid-file",
                    str(workdir / "rotel.pid"),
                    "--log-file",
                    str(workdir / "rotel.log"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _wait_listening(http, proc, log)
        return cls(proc, grpc, f"http://{http}", log)

    def spans(self) -> list[SpanDump]:
        return parse_spans(self.log.read_text(errors="replace"))

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[SpanDump]:
        """Poll the received spans until `predicate(spans)` holds; the spans either way."""
        deadline = time.monotonic() + timeout
        while not predicate(spans := self.spans()) and time.monotonic() < deadline:
            time.sleep(0.3)
        return spans

    def stop(self) -> None:
        _stop(self.proc)


def _wait_listening(address: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """rotel answers any HTTP path once up; a 404/405 for GET still proves it listens."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            missing_service(f"rotel exited with {proc.returncode}: {log.read_text()[-500:]}")
        try:
            urllib.request.urlopen(f"http://{address}/v1/traces", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    _stop(proc)
    missing_service(f"rotel did not listen on {address} within {START_TIMEOUT:.0f} s")
