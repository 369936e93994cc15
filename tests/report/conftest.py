"""Every test here runs against real Git with an isolated identity and config."""

from tests.source.gitutil import git_daemon, isolated_git

__all__ = ["git_daemon", "isolated_git"]
