"""Read `metadata.name` from a file that does not parse, up to its first error.

A broken file must still say which federation it means, so that a typo never reads as
"this federation was deleted". Best effort over the parser's event stream. Used by
`filecheck` when `yamlsafe` rejects a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from reconciler.specs.yamlsafe import MAX_FILE_BYTES, SpecLoader


@dataclass
class _Frame:
    """An open collection while reading events: `under` is the key it sits under."""

    is_map: bool
    under: str | None
    key: str | None = None
    awaiting_key: bool = True


def salvage_name(content: bytes) -> str | None:
    """`metadata.name` read from the parse events before a file's first error, so that a
    broken file still says which federation it means. Best effort: None when not reached."""
    text = content[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
    loader = SpecLoader(text)
    frames: list[_Frame] = []
    try:
        while True:
            event = loader.get_event()
            if isinstance(event, yaml.DocumentEndEvent | yaml.StreamEndEvent):
                return None
            found = _follow(event, frames)
            if found is not None:
                return found or None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _follow(event: yaml.Event, frames: list[_Frame]) -> str | None:
    """Track the open collections; return the name when `event` is it, "" to give up."""
    top = frames[-1] if frames else None
    if isinstance(event, yaml.CollectionEndEvent):
        frames.pop()
        if frames:
            frames[-1].awaiting_key = True
        return None
    if not isinstance(event, yaml.NodeEvent):
        return None
    if top is not None and top.is_map and top.awaiting_key:
        if not isinstance(event, yaml.ScalarEvent):
            return ""  # a complex key: no spec has one, stop guessing
        top.key, top.awaiting_key = event.value, False
        return None
    if isinstance(event, yaml.CollectionStartEvent):
        under = top.key if top is not None and top.is_map else None
        frames.append(_Frame(is_map=isinstance(event, yaml.MappingStartEvent), under=under))
        return None
    if top is not None:
        top.awaiting_key = top.is_map
    in_metadata = len(frames) == 2 and frames[0].is_map and frames[1].under == "metadata"
    if in_metadata and top is not None and top.is_map and top.key == "name":
        return event.value if isinstance(event, yaml.ScalarEvent) and event.value else ""
    return None
