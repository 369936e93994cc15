"""The container tier's fixture: containers of the image under test, removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.container.engine import Containers, started_containers


@pytest.fixture
def containers() -> Iterator[Containers]:
    yield from started_containers()
