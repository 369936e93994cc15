"""The Flower driver turns transport failures into the runtime's own errors."""

from __future__ import annotations

import pytest

from reconciler.model import FederationKey
from reconciler.runtime.base import RunRejected, RunRequest, RuntimeUnavailable
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import free_port


def test_an_unreachable_superlink_is_transient() -> None:
    driver = FlowerRuntime(f"127.0.0.1:{free_port()}")
    try:
        with pytest.raises(RuntimeUnavailable, match="unreachable"):
            driver.observe()
        with pytest.raises(RuntimeUnavailable):
            driver.nodes()
    finally:
        driver.close()


def test_an_unrunnable_spec_is_rejected_before_any_call() -> None:
    driver = FlowerRuntime(f"127.0.0.1:{free_port()}")
    request = RunRequest(
        key=FederationKey("acme", "x"),
        generation=1,
        attempt=1,
        document={"spec": {"strategy": {"name": "fedsgd"}}},
        checkpoint_base="file:///tmp/c",
        repo_root="/",
        progress_url="http://x",
    )
    try:
        with pytest.raises(RunRejected, match="fedsgd"):
            driver.submit(request)
    finally:
        driver.close()
