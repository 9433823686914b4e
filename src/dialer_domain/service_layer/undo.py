"""What one engine step changed in the engine's own memory, so that it can be put back.

A step changes aggregates and the engine's live state (calls in flight, timers, pacing
measurements), then appends the aggregates' events in one atomic append. If the append is refused
(another writer changed a contact first), the step is undone and run again on fresh aggregates: a
fact from the network (an answer, a hang-up) is never dropped. Changes are recorded only while a
step is open; outside one (folding the log on start) they are simply made.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from typing import Any


class UndoLog:
    def __init__(self) -> None:
        self._entries: list[Callable[[], None]] | None = None
        self._kept: set[Hashable] = set()

    @property
    def active(self) -> bool:
        return self._entries is not None

    def begin(self) -> None:
        self._entries = []
        self._kept.clear()

    def end(self) -> None:
        """The step's events are stored: its changes stay."""
        self._entries = None
        self._kept.clear()

    def undo(self) -> None:
        """Put back everything recorded since ``begin``, newest first."""
        entries, self._entries = self._entries or [], None
        self._kept.clear()
        for restore in reversed(entries):
            restore()

    def _record(self, restore: Callable[[], None]) -> None:
        if self._entries is not None:
            self._entries.append(restore)

    def add(self, restore: Callable[[], None]) -> None:
        """Keep how to take back a change already made (a no-op outside a step)."""
        self._record(restore)

    def put(self, mapping: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        if self._entries is not None:
            if key in mapping:
                old = mapping[key]
                self._record(lambda: mapping.__setitem__(key, old))
            else:
                self._record(lambda: mapping.pop(key, None))
        mapping[key] = value

    def pop(self, mapping: MutableMapping[Any, Any], key: Any) -> Any:
        if key not in mapping:
            return None
        old = mapping.pop(key)
        self._record(lambda: mapping.__setitem__(key, old))
        return old

    def set(self, obj: object, **fields: Any) -> None:
        if self._entries is not None:
            old = {name: getattr(obj, name) for name in fields}

            def restore() -> None:
                for name, value in old.items():
                    setattr(obj, name, value)

            self._record(restore)
        for name, value in fields.items():
            setattr(obj, name, value)

    def keep_once(self, key: Hashable, save: Callable[[], Callable[[], None]]) -> None:
        """Before the first change of a larger structure in this step: ``save`` copies it and
        returns how to put the copy back."""
        if self._entries is not None and key not in self._kept:
            self._kept.add(key)
            self._record(save())
