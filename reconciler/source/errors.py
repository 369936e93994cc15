"""Errors raised by the source layer, each saying what the caller should do next.

Everything a fetch can run into (network, remote, Git itself) arrives as one of these;
no GitPython exception leaves `reconciler.source`.
"""

from __future__ import annotations


class SourceError(Exception):
    """Base of every source error. Whatever the subtype, the caller keeps its last known
    desired state: a failure to read the repository never means "the specs were deleted"."""


class SourceUnavailable(SourceError):
    """The remote could not be reached or read (network, auth, missing branch, timeout).

    Transient: retry with backoff and report a SourceUnavailable condition meanwhile.
    The message names the remote without credentials.
    """


class SourceMisconfigured(SourceError):
    """The local side is set up wrongly (workdir not ours, ssh key file missing).

    Needs a person: retrying without a configuration change will fail the same way.
    """


class RevisionNotFound(SourceError):
    """A revision named by the user (for example `plan --against REV`) does not exist."""
