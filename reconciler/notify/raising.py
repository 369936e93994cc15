"""Raising the notices no transition writes (invalid specs, stalled runs), while leading.

The delivery thread calls `NoticeRaiser.run()` on each pass before its lanes, so a notice
raised is delivered in the same pass. Invalid specs come from the daemon's last cycle
(`found_invalid`, called on the cycle's thread: the list is handed over, not shared); stalls
are looked for every `stalled_after / 4` seconds (at most every 30 s). Only what some
subscription asks for is raised. A store failure leaves the work for the next pass:
nothing found is lost, and the store remembers what was raised (`Store.raise_notices`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from reconciler.notify.config import NotifyConfig
from reconciler.notify.notices import InvalidSpec, invalid_notices, stalled_notices
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)
LONGEST_STALL_CHECK = 30.0  # seconds between looks for stalled runs, at most
_REMEMBERED = 10_000  # invalid notices known raised, kept to skip asking the store again


class NoticeRaiser:
    def __init__(
        self, config: NotifyConfig, store: Store, spec_commit: Callable[[str, str], str]
    ) -> None:
        self.store, self.spec_commit = store, spec_commit
        self.stalled_after = config.stalled_after
        self.wants_invalid = config.wants("invalid")
        self.wants_stalled = config.wants("stalled")
        self.check_every = min(LONGEST_STALL_CHECK, self.stalled_after / 4)
        self._found: list[InvalidSpec] | None = None  # handed over, not raised yet
        self._next_check = 0.0  # time.monotonic() of the next look for stalls
        self._raised: set[tuple[object, str]] = set()  # (key, fingerprint) known to the store

    def found_invalid(self, specs: Iterable[InvalidSpec] | None) -> None:
        """The invalid specs a cycle found (None: it could not tell; nothing changes)."""
        if specs is not None and self.wants_invalid:
            self._found = list(specs)

    def run(self) -> None:
        """Raise what is due; a store failure is logged and retried on the next pass."""
        try:
            self._raise_invalid()
            self._raise_stalled()
        except StoreError as exc:
            log.warning("notices not raised yet (retried): %s", exc)

    def _raise_invalid(self) -> None:
        found = self._found
        if not found:
            return
        notices = [
            n
            for n in invalid_notices(found, self.spec_commit)
            if (n.key, n.fingerprint) not in self._raised
        ]
        self.store.raise_notices(notices)
        if len(self._raised) > _REMEMBERED:
            self._raised.clear()  # the store still remembers: this only saves round trips
        self._raised.update((n.key, n.fingerprint) for n in notices)
        if self._found is found:  # a newer cycle's list waits for the next pass
            self._found = None

    def _raise_stalled(self) -> None:
        now = time.monotonic()
        if not self.wants_stalled or now < self._next_check:
            return
        self._next_check = now + self.check_every
        notices = stalled_notices(self.store.run_progress(), self.stalled_after)
        for event_id in self.store.raise_notices(notices):
            log.info("stall notice raised (event %s)", event_id)
