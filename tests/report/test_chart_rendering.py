"""The status page's chart, drawn by mermaid-cli in Chromium (what GitHub runs in the
browser): the line must stand out on GitHub's light and dark backgrounds.

mermaid-cli comes from npm (`.ci/run` installs it and sets THUNDERLINE_MMDC); Chromium from
Debian. Missing either skips locally and fails in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.report import render_status
from tests.conftest import missing_service
from tests.report.builders import status

pytestmark = pytest.mark.browser

LIGHT, DARK = "#ffffff", "#0d1117"  # GitHub's page backgrounds
_LINE = re.compile(r'<g class="line-plot-0"[^>]*>\s*<path [^>]*stroke="(#[0-9a-fA-F]{6})"')


def _mmdc() -> str:
    found = os.environ.get("THUNDERLINE_MMDC") or shutil.which("mmdc")
    if not found or not shutil.which("chromium"):
        missing_service("mermaid-cli (THUNDERLINE_MMDC or mmdc on PATH) and chromium")
    return str(found)


def _line_colour(chart: str, tmp: Path, background: str) -> str:
    """The stroke of the chart's line as mermaid-cli draws it."""
    config = tmp / "puppeteer.json"
    config.write_text(
        json.dumps({"executablePath": shutil.which("chromium"), "args": ["--no-sandbox"]})
    )
    source, drawn = tmp / "chart.mmd", tmp / "chart.svg"
    source.write_text(chart)
    subprocess.run(
        [_mmdc(), "-q", "-p", str(config), "-i", str(source), "-o", str(drawn), "-b", background],
        check=True,
        timeout=120,
        capture_output=True,
    )
    found = _LINE.search(drawn.read_text())
    assert found, "no line plot in the drawn chart"
    return found[1].lower()


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio (1 to 21); 3 is the minimum for graphics."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _chart() -> str:
    page = render_status([status()])["status/team-a/coop-chat.md"]
    return page.split("```mermaid\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("background", [LIGHT, DARK])
def test_the_line_stands_out_on_both_themes(background: str, tmp_path: Path) -> None:
    colour = _line_colour(_chart(), tmp_path, background)

    assert contrast(colour, background) >= 3, colour


def test_without_the_palette_the_line_is_nearly_invisible_on_white(tmp_path: Path) -> None:
    """What the frontmatter fixes (and proof that the check above can fail)."""
    bare = _chart().split("---\n", 2)[2]  # the chart without its frontmatter

    colour = _line_colour(bare, tmp_path, LIGHT)

    assert contrast(colour, LIGHT) < 1.5, colour
