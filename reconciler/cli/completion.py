"""`reconciler completion bash|zsh|fish`: a shell script that completes the command line.

Completion is argcomplete's: the script asks `reconciler` itself (with `_ARGCOMPLETE` set)
for the words that fit, so it always matches the installed commands and flags. Install:

    reconciler completion bash > ~/.local/share/bash-completion/completions/reconciler
    reconciler completion zsh > "${fpath[1]}/_reconciler"
    reconciler completion fish > ~/.config/fish/completions/reconciler.fish
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["reconciler"], shell=args.shell), end="")
    return 0
