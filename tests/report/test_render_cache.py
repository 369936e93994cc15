"""The cached renderer writes exactly what render_status writes, rendering only what changed."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

from reconciler.model import FederationKey, Phase
from reconciler.report import FederationStatus, render_status
from reconciler.report import render as render_module
from reconciler.report.render import CachedRenderer


def statuses(n: int) -> list[FederationStatus]:
    return [
        FederationStatus(
            key=FederationKey("acme", f"fed-{i}"),
            path=f"specs/acme/fed-{i}.yaml",
            phase=Phase.RUNNING,
            current_round=i % 3,
            total_rounds=5,
        )
        for i in range(n)
    ]


def test_cached_output_equals_a_fresh_render() -> None:
    render = CachedRenderer()
    first = statuses(5)
    assert render(first) == render_status(first)
    changed = [replace(first[2], current_round=4), *first[:2], *first[3:]]
    assert render(changed) == render_status(changed)


def test_only_changed_statuses_are_rendered_again() -> None:
    render = CachedRenderer()
    first = statuses(5)
    render(first)
    with mock.patch.object(render_module, "render_page", wraps=render_module.render_page) as page:
        render([replace(first[0], phase=Phase.PAUSED), *first[1:]])
    assert page.call_count == 1


def test_a_removed_federation_disappears() -> None:
    render = CachedRenderer()
    first = statuses(3)
    render(first)
    files = render(first[:2])
    assert not any("fed-2" in path for path in files)
