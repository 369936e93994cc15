"""`reconciler run --http-*` flags reach `HttpLimits`, with the same defaults."""

from __future__ import annotations

import pytest

from reconciler.settings import HttpLimits


def test_the_http_limit_flags_reach_the_settings_and_default_to_http_limits() -> None:
    from reconciler.cli import build_parser
    from reconciler.cli.run import settings_from

    argv = ["run", "--repo", ".", "--http-header-timeout", "2.5", "--http-body-timeout", "3"]
    args = build_parser().parse_args(
        [*argv, "--http-idle-timeout", "7", "--http-max-requests", "9"]
    )
    settings = settings_from(args)
    defaults = settings_from(build_parser().parse_args(["run", "--repo", "."]))

    assert settings.http.limits == HttpLimits(
        header_timeout=2.5, body_timeout=3.0, idle_timeout=7, max_requests=9
    )
    assert defaults.http.limits == HttpLimits()  # the flags' defaults are the settings' own


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--http-body-timeout", "0"), ("--http-idle-timeout", "-1"), ("--http-max-requests", "0")],
)
def test_a_limit_that_cannot_work_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    from reconciler.cli import main

    code = main(["run", "--repo", ".", flag, value])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("reconciler run: --http-") and err.count("\n") == 1
