"""The dialler's timers: ring and call-length limits, the abandon wait, offer expiry, wrap-up end.
A heap of (due time, order, kind, subject, detail), taken back with the step that changed it."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from uuid import UUID

from dialer_domain.service_layer.undo import UndoLog

Timer = tuple[float, int, str, UUID | str, UUID | None]


class Timers:
    def __init__(self, undo: UndoLog) -> None:
        self._heap: list[Timer] = []
        self._seq = 0
        self._undo = undo

    def _keep(self) -> None:
        def save() -> Callable[[], None]:
            heap, seq = list(self._heap), self._seq

            def restore() -> None:
                self._heap, self._seq = heap, seq

            return restore

        self._undo.keep_once("timers", save)

    def add(self, at: datetime, kind: str, subject: UUID | str, detail: UUID | None = None) -> None:
        self._keep()
        self._seq += 1
        heapq.heappush(self._heap, (at.timestamp(), self._seq, kind, subject, detail))

    def due(self, now: datetime) -> Iterator[tuple[str, UUID | str, UUID | None]]:
        """The timers due by ``now``, earliest first (each taken off as it is handed out)."""
        t = now.timestamp()
        if self._heap and self._heap[0][0] <= t:
            self._keep()
        while self._heap and self._heap[0][0] <= t:
            _, _, kind, subject, detail = heapq.heappop(self._heap)
            yield kind, subject, detail

    def next_due(self, tz: tzinfo | None) -> datetime | None:
        return datetime.fromtimestamp(self._heap[0][0], tz=tz) if self._heap else None

    def snapshot(self) -> list[Timer]:
        return list(self._heap)
