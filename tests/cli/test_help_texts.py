"""Help a user can act on: a description for users, every flag explained with its default."""

from __future__ import annotations

import argparse

import pytest

from reconciler.cli import COMMANDS, build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_top_level_help_is_for_users() -> None:
    text = build_parser().format_help()

    assert "Thunderline Reconciler keeps" in text
    assert "hands over" not in text  # the module docstring is for developers
    assert all(name in text for name in COMMANDS)


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_flag_has_help(command: str) -> None:
    parser = _subparsers()[command]
    missing = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings and not action.help and action.help != argparse.SUPPRESS
    ]
    assert missing == []


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_default_is_shown(command: str) -> None:
    """A flag with a default value says what it is ("default: ...")."""
    parser = _subparsers()[command]
    silent = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings
        and action.help != argparse.SUPPRESS
        and action.default not in (None, False, argparse.SUPPRESS)
        and "default" not in (action.help or "")
    ]
    assert silent == []


def test_plan_help_shows_the_against_default() -> None:
    text = " ".join(_subparsers()["plan"].format_help().split())

    assert "(default: status)" in text
