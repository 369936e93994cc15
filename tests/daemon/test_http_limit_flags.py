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


def test_the_console_proxy_flags_reach_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import build_parser, main
    from reconciler.cli.run import settings_from
    from reconciler.settings import HttpSettings

    argv = ["run", "--repo", ".", "--console-trusted-proxy", "10.0.0.0/8"]
    args = build_parser().parse_args(
        [*argv, "--console-trusted-proxy", "fd00::1", "--console-identity-header", "X-User"]
    )
    http = settings_from(args).http
    defaults = settings_from(build_parser().parse_args(["run", "--repo", "."])).http

    assert http.console_trusted_proxies == ("10.0.0.0/8", "fd00::1")
    assert http.console_identity_header == "X-User"
    assert defaults.console_trusted_proxies == HttpSettings.console_trusted_proxies
    assert defaults.console_identity_header == HttpSettings.console_identity_header
    with pytest.raises(SystemExit) as exited:
        main(["run", "--repo", ".", "--console-trusted-proxy", "10.0.0.300"])
    assert exited.value.code == 2
    assert "--console-trusted-proxy" in capsys.readouterr().err
