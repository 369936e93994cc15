"""The Docker engine and the image under test, for the container tier.

The image is $THUNDERLINE_IMAGE (default `thunderline-reconciler:ci`, what .ci/container.sh
builds). No engine or no image skips the tier locally and fails it under CI=true.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.conftest import missing_service

IMAGE = os.environ.get("THUNDERLINE_IMAGE", "thunderline-reconciler:ci")
# The image's own user: folders the containers write are handed to it when we are root.
IMAGE_UID = 10001


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}... failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class Containers:
    """Containers started from IMAGE, on the host's network; removed at the end."""

    prefix: str = field(default_factory=lambda: f"tl-{uuid.uuid4().hex[:8]}")
    started: list[str] = field(default_factory=list)

    def start(self, name: str, *args: str, network: str = "host") -> str:
        """`docker run -d` of IMAGE with `args` (options, then IMAGE's arguments after "--")."""
        cut = args.index("--")
        options, command = args[:cut], args[cut + 1 :]
        full = f"{self.prefix}-{name}"
        docker("run", "-d", "--name", full, "--network", network, *options, IMAGE, *command)
        self.started.append(full)
        return full

    def logs(self) -> str:
        shown = []
        for name in self.started:
            done = subprocess.run(
                ["docker", "logs", "--tail", "60", name],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            shown.append(f"--- {name}\n{done.stdout}{done.stderr}")
        return "\n".join(shown)

    def remove(self) -> None:
        if self.started:
            docker("rm", "-f", "-v", *self.started)


def require_image() -> None:
    try:
        docker("image", "inspect", IMAGE, timeout=30)
    except (AssertionError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        missing_service(f"no Docker engine with image {IMAGE} ({exc}); run .ci/container.sh")


def started_containers() -> Iterator[Containers]:
    require_image()
    started = Containers()
    try:
        yield started
    finally:
        print(started.logs())  # pytest shows it only when the test failed
        started.remove()
