"""Fixtures for the store tests: migrated stores on fresh databases, and spec builders.

`store` gets a database of its own (via `pg_url`); `shared_store` is one migrated database
per test module, for the many small table-driven cases: creating a database costs seconds
on a busy machine, so those cases share one and each uses federation names of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from reconciler.model import API_VERSION, KIND, FederationKey, FederationSpec, Phase
from reconciler.store import Store
from tests.conftest import ADMIN_URL, missing_service


def make_spec(name: str = "coop-chat", tenant: str = "acme", **spec: Any) -> FederationSpec:
    body: dict[str, Any] = {"rounds": {"total": 3}, "strategy": {"name": "fedavg"}, **spec}
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "tenant": tenant},
        "spec": body,
    }
    return FederationSpec(FederationKey(tenant, name), f"specs/{tenant}/{name}.yaml", document)


def unique_spec(**spec: Any) -> FederationSpec:
    return make_spec(f"fed-{uuid.uuid4().hex[:10]}", **spec)


def walk(store: Store, key: FederationKey, *phases: Phase) -> None:
    """Drive a recorded federation through `phases` with fresh versions."""
    for phase in phases:
        store.transition(key, phase, expected_version=store.get(key).version)


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    with Store.connect(pg_url) as opened:
        opened.migrate()
        yield opened


@pytest.fixture(scope="module")
def shared_store() -> Iterator[Store]:
    db = f"tl_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{db}"')
    except psycopg.OperationalError as exc:
        missing_service(f"PostgreSQL not reachable: {exc}")
    try:
        with Store.connect(f"{ADMIN_URL.rpartition('/')[0]}/{db}") as opened:
            opened.migrate()
            yield opened
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
