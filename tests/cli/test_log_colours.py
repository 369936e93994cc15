"""`reconciler logs`: Flower's colour codes only reach a terminal; `-f` prints new lines."""

from __future__ import annotations

import threading

import pytest

from reconciler.cli import logs

COLOURED = ["\x1b[92mINFO \x1b[0m:      Starting round 1", "\x1b[1;31mERROR\x1b[0m: boom"]
PLAIN = ["INFO :      Starting round 1", "ERROR: boom"]


class GrowingLog:
    """Stands in for FlowerRuntime: a log that grows by one line per look, then finishes."""

    def __init__(self, lines: list[str], *, finish_after: int) -> None:
        self.lines, self.looks, self.finish_after = lines, 0, finish_after

    def logs(self, run_id: int, *, target: str = "default") -> list[str]:
        self.looks += 1
        return self.lines[: self.looks]

    def status(self, run_id: int) -> tuple[str, str, str]:
        done = self.looks >= self.finish_after
        return ("finished" if done else "running", "completed" if done else "", "")


@pytest.mark.parametrize(("plain", "shown"), [(True, PLAIN), (False, COLOURED)])
def test_colours_only_when_asked(
    plain: bool, shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = GrowingLog(COLOURED, finish_after=1)
    runtime.looks = 1  # the whole log is there

    assert logs.print_run(runtime, 7, header=False, plain=plain) == 2  # type: ignore[arg-type]

    assert capsys.readouterr().out.splitlines() == shown


@pytest.mark.parametrize(
    ("tty", "no_color", "plain"), [(False, "", True), (True, "", False), (True, "1", True)]
)
def test_plain_output_follows_the_terminal_and_no_color(
    tty: bool, no_color: str, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: tty)
    monkeypatch.setenv("NO_COLOR", no_color)

    assert logs.plain_output() is plain


def test_follow_prints_each_new_line_once_until_the_run_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = [f"line {n}" for n in range(5)]
    runtime = GrowingLog(lines, finish_after=4)
    runtime.looks = 1
    stop = threading.Event()
    timer = threading.Timer(10, stop.set)  # a bound, should the run never end
    timer.start()
    try:
        logs.follow_run(runtime, 7, printed=1, plain=True, poll=0.01, stop=stop)  # type: ignore[arg-type]
    finally:
        timer.cancel()

    assert not stop.is_set()
    assert capsys.readouterr().out.splitlines() == lines[1:5]
