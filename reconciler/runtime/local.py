"""A local Flower deployment on loopback: one SuperLink and N SuperNodes.

The embedded default runtime (`reconciler demo`) and the flower test tier use it.
Each process gets its own port and FLWR_HOME under `workdir`, the venv's `bin` on PATH
(SuperLink and SuperNodes start `flower-superexec` by name), telemetry and update checks
off, and no runtime dependency installation (offline). Each process leads its own
process group, so stopping it also ends its superexec / serverapp / clientapp children.

The progress key (`progress_key`) goes to the SuperLink only, as a 0600 file named by
`THUNDERLINE_PROGRESS_KEY_FILE`: Flower's SuperExec and every `flwr-serverapp` inherit the
SuperLink's environment, the SuperNodes never see it. No Flower process inherits the
daemon's own secrets (`PRIVATE_ENV`: progress key, webhook secret, database URL), whatever
the daemon's environment holds. All processes run as one user on one host, so this keeps
the key out of every run config, log and SuperNode environment, but it is no wall between
processes: see docs/security.md ("Out of scope").

The SuperNodes are warm (`warm.py`: ClientApps forked from a process with Flower already
loaded, not a new interpreter per message, and no 3 s idle poll) unless
`THUNDERLINE_WARM_SUPERNODES=0`.

With `tls=True` the SuperLink serves TLS with a certificate for 127.0.0.1 and localhost
from a CA made for this deployment (`certs.write_server_pki`, files in `<workdir>/tls`);
SuperNodes and `runtime()` trust that CA only. Without it, everything speaks plaintext on
loopback, as Flower's `--insecure` does.

With `supernode_auth=True` (needs `tls`: Flower refuses it otherwise) the SuperLink admits
only SuperNodes whose public key was registered through the Control API: each SuperNode
gets a key of its own (`<workdir>/supernode-<i>/node.key`), registered before it starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from reconciler.runtime import warm
from reconciler.runtime.base import RuntimeFailure
from reconciler.runtime.certs import ServerPki, write_node_key, write_private, write_server_pki
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.progress import PROGRESS_KEY_ENV, PROGRESS_KEY_FILE_ENV
from reconciler.runtime.tls import Transport
from reconciler.selector import LABEL_KEYS

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_GRACE = 5.0
# Flower's SuperExec polls for new tasks once a second by default. Four SuperExecs polling
# at 10 Hz cost noticeable CPU on two cores, so a quarter second is the middle ground.
TASK_POLL_INTERVAL = "0.25"
# Variables of the daemon's environment no Flower process inherits: credentials the daemon
# accepts (the progress key under every name it goes by, the webhook secret) and the
# database. The SuperLink gets the progress key back through its own key file only.
PRIVATE_ENV = frozenset(
    {
        "THUNDERLINE_PROGRESS_SECRET",
        PROGRESS_KEY_ENV,
        PROGRESS_KEY_FILE_ENV,
        "THUNDERLINE_WEBHOOK_SECRET",
        "DATABASE_URL",
    }
)
SUPERLINK = "superlink"


class LocalFlowerError(RuntimeFailure):
    """A local Flower process did not come up; the message names its log file."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def venv_bin() -> Path:
    """The folder of this interpreter (not resolved: a venv's python is a symlink)."""
    return Path(sys.executable).parent


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process we can see (Linux /proc; empty elsewhere)."""
    table: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces; the fields after its ')' are fixed.
            fields = stat.read_text().rpartition(")")[2].split()
            table[int(stat.parent.name)] = int(fields[1])
    return table


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, including ones that started their own session."""
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def _signal(pid: int, sig: signal.Signals, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def end_tree(proc: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """End a process, its group, and every descendant (Flower detaches its SuperExec).

    SIGTERM first (SIGKILL when `kill`), SIGKILL for whatever is left after a grace period.
    """
    tree = descendants(proc.pid)
    first = signal.SIGKILL if kill else signal.SIGTERM
    _signal(proc.pid, first, group=True)
    for pid in tree:
        _signal(pid, first, group=False)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE)
    deadline = time.monotonic() + STOP_GRACE
    while (alive := [p for p in tree if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal(proc.pid, signal.SIGKILL, group=True)
    for pid in alive:
        _signal(pid, signal.SIGKILL, group=False)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE)


def _label_config(labels: Mapping[str, str]) -> str:
    """Labels as `--node-config` pairs (`tags="gpu,eu"`): TOML strings, so no quote inside."""
    pairs = []
    for key, value in sorted(labels.items()):
        if key not in LABEL_KEYS or '"' in value or "\\" in value:
            raise ValueError(f"label {key}={value!r}: keys are {LABEL_KEYS}, values unquoted")
        pairs.append(f'{key}="{value}"')
    return " ".join(pairs)


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie awaiting its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class LocalFlower:
    """Start, restart and stop a SuperLink (SQLite state) and `supernodes` SuperNodes.

    SuperNode i gets node config `partition-id=i num-partitions=N`, plus the labels
    `labels[i]` (e.g. `{"tags": "gpu,eu"}`: see `reconciler.selector`) when given. `tls`:
    serve and dial TLS with a CA made for this deployment (see the module docstring).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        supernodes: int = 3,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        progress_key: bytes | None = None,
        tls: bool = False,
        supernode_auth: bool = False,
        labels: Sequence[Mapping[str, str]] = (),
    ) -> None:
        if supernode_auth and not tls:
            raise ValueError("SuperNode authentication needs TLS (Flower 1.42 refuses it without)")
        if len(labels) > supernodes:
            raise ValueError(f"labels for {len(labels)} SuperNodes, but {supernodes} start")
        self._labels = [_label_config(found) for found in labels]
        self.workdir = workdir.resolve()
        self.supernodes = supernodes
        self.port = port or free_port()
        self._extra_env = {k: v for k, v in (extra_env or {}).items() if k not in PRIVATE_ENV}
        self._progress_key = progress_key
        self._superlink: subprocess.Popen[bytes] | None = None
        self._nodes: dict[int, subprocess.Popen[bytes]] = {}
        self._node_ports = [free_port() for _ in range(supernodes)]
        self.tls = tls
        self.supernode_auth = supernode_auth
        self._pki: ServerPki | None = None

    @property
    def pki(self) -> ServerPki:
        """The CA and server certificate files (made at the first use, kept for restarts)."""
        if self._pki is None:
            self._pki = write_server_pki(self.workdir / "tls")
        return self._pki

    @property
    def transport(self) -> Transport:
        """How clients reach this SuperLink."""
        if not self.tls:
            return Transport(insecure=True)
        return Transport(insecure=False, ca_file=self.pki.ca_file)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def runtime(self) -> FlowerRuntime:
        return FlowerRuntime(self.address, transport=self.transport)

    def __enter__(self) -> LocalFlower:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _env(self, name: str) -> dict[str, str]:
        home = self.workdir / name / "flwr-home"
        home.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
        path = [str(venv_bin()), os.environ.get("PATH", "")]
        if name != SUPERLINK and warm.enabled({**os.environ, **self._extra_env}):
            path.insert(0, str(warm.install_shims(self.workdir / "warm-bin")))
        env = {
            **inherited,
            "PATH": os.pathsep.join(path),
            "FLWR_HOME": str(home),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": TASK_POLL_INTERVAL,
            "PYTHONUNBUFFERED": "1",
            **self._extra_env,
        }
        if name == SUPERLINK and self._progress_key is not None:
            env[PROGRESS_KEY_FILE_ENV] = str(self._write_key(self.workdir / name))
        return env

    def _write_key(self, folder: Path) -> Path:
        """The progress key in a file only its owner may read (rewritten at every start)."""
        path = folder / "progress.key"
        folder.mkdir(parents=True, exist_ok=True)
        write_private(path, self._progress_key or b"")
        return path

    def _server_tls_args(self) -> list[str]:
        if not self.tls:
            return ["--insecure"]
        pki = self.pki
        return [
            "--ssl-ca-certfile",
            str(pki.ca_file),
            "--ssl-certfile",
            str(pki.cert_file),
            "--ssl-keyfile",
            str(pki.key_file),
        ]

    def _client_tls_args(self) -> list[str]:
        return ["--root-certificates", str(self.pki.ca_file)] if self.tls else ["--insecure"]

    def _node_auth_args(self, index: int) -> list[str]:
        """The SuperNode's key flag; its key is made and registered at its first start."""
        if not self.supernode_auth:
            return []
        key_file = self.workdir / f"supernode-{index}" / "node.key"
        if not key_file.exists():
            runtime = self.runtime()
            try:
                runtime.register_node(write_node_key(key_file))
            finally:
                runtime.close()
        return ["--auth-supernode-private-key", str(key_file)]

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log_path = self.workdir / name / "process.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = self._env(name)
        # By the process's own PATH: a warm SuperNode's command is the shim, not the venv's.
        command = shutil.which(args[0], path=env["PATH"]) or str(venv_bin() / args[0])
        with log_path.open("ab") as log_file:
            return subprocess.Popen(
                [command, *args[1:]],
                cwd=self.workdir / name,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        """Start everything and wait until the SuperLink is healthy and all nodes online."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_superlink()
        for index in range(self.supernodes):
            self.start_supernode(index)
        self.wait_for_nodes(self.supernodes)

    def start_superlink(self) -> None:
        self._superlink = self._spawn(
            SUPERLINK,
            [
                "flower-superlink",
                *self._server_tls_args(),
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--database",
                str(self.workdir / "superlink" / "state.db"),
                "--disable-runtime-dependency-installation",
                *(["--enable-supernode-auth"] if self.supernode_auth else []),
            ],
        )
        self._wait_healthy()

    def start_supernode(self, index: int) -> None:
        config = f"partition-id={index} num-partitions={self.supernodes}"
        if index < len(self._labels):
            config = f"{config} {self._labels[index]}".rstrip()
        self._nodes[index] = self._spawn(
            f"supernode-{index}",
            [
                "flower-supernode",
                *self._client_tls_args(),
                *self._node_auth_args(index),
                "--superlink",
                self.address,
                "--host",
                HOST,
                "--port",
                str(self._node_ports[index]),
                "--node-config",
                config,
            ],
        )

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        scheme, context = (
            ("https", ssl.create_default_context(cafile=self.pki.ca_file))
            if self.tls
            else ("http", None)
        )
        url = f"{scheme}://{self.address}/health"
        while time.monotonic() < deadline:
            self._check_alive("superlink", self._superlink)
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=1, context=context) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise LocalFlowerError(
            f"SuperLink not healthy after {READY_TIMEOUT:.0f} s; see {self._log('superlink')}"
        )

    def wait_for_nodes(self, count: int, timeout: float = READY_TIMEOUT) -> None:
        """Wait until at least `count` SuperNodes are online."""
        runtime = self.runtime()
        deadline = time.monotonic() + timeout
        try:
            while sum(n.online for n in runtime.nodes()) < count:
                if time.monotonic() > deadline:
                    raise LocalFlowerError(
                        f"fewer than {count} SuperNodes online after {timeout:.0f} s; "
                        f"see {self.workdir}/supernode-*/process.log"
                    )
                for index, proc in self._nodes.items():
                    self._check_alive(f"supernode-{index}", proc)
                time.sleep(0.2)
        finally:
            runtime.close()

    def _log(self, name: str) -> Path:
        return self.workdir / name / "process.log"

    def _check_alive(self, name: str, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is not None:
            raise LocalFlowerError(f"{name} exited with {proc.returncode}; see {self._log(name)}")

    def processes(self) -> list[int]:
        """Every live process of this deployment: the leaders and all their descendants."""
        leaders = [p.pid for p in (self._superlink, *self._nodes.values()) if p is not None]
        return [pid for leader in leaders for pid in (leader, *descendants(leader))]

    def supernode_processes(self) -> list[int]:
        """Every live process on the SuperNode side: the SuperNodes and all their children."""
        leaders = [p.pid for p in self._nodes.values()]
        return [pid for leader in leaders for pid in (leader, *descendants(leader))]

    def node_processes(self, index: int) -> list[int]:
        """SuperNode `index` and every process below it (its superexec, its clientapps)."""
        proc = self._nodes.get(index)
        return [proc.pid, *descendants(proc.pid)] if proc is not None else []

    def kill_supernode(self, index: int) -> None:
        proc = self._nodes.pop(index, None)
        if proc is not None:
            end_tree(proc, kill=True)

    def restart_superlink(self, *, kill: bool = True) -> None:
        """Kill (or terminate) the SuperLink with its children and start it on the same port."""
        if self._superlink is not None:
            end_tree(self._superlink, kill=kill)
        self.start_superlink()

    def stop(self) -> None:
        """Stop every process this object started, SuperNodes first."""
        for index in list(self._nodes):
            end_tree(self._nodes.pop(index))
        if self._superlink is not None:
            end_tree(self._superlink)
            self._superlink = None
