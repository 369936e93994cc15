"""The files handed from the renderer to the writer: texts by path, blob ids up front.

A daemon over 10,000 federations re-renders only the statuses that changed, and keeping
20,000 rendered texts in memory to hand over the unchanged ones would cost more than the
rest of its state. `StatusFiles` carries the git blob id of every file (cheap to keep) and
produces a text only when asked; the writer asks only for files whose blob id is not on
the branch yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping


def blob_id(text: str) -> str:
    """The id git gives a file with this content (sha1 of "blob <size>\\0" + data)."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class StatusFiles(Mapping[str, str]):
    """{path: text} whose texts come from `text(path)` on demand; `blob_ids` is known."""

    def __init__(self, blob_ids: Mapping[str, str], text: Callable[[str], str]) -> None:
        self.blob_ids = blob_ids
        self._text = text

    def __getitem__(self, path: str) -> str:
        if path not in self.blob_ids:
            raise KeyError(path)
        return self._text(path)

    def __iter__(self) -> Iterator[str]:
        return iter(self.blob_ids)

    def __len__(self) -> int:
        return len(self.blob_ids)
