"""The dialler's timers: ring and call-length limits, the abandon wait, offer expiry, wrap-up end.
A heap of (due time, order, kind, subject, detail), taken back with the step that changed it.

A timer whose reason is gone (the call ended, the agent left wrap-up) is cancelled: it is skipped
when it comes due, and ``next_due`` does not name it, so the world is not woken for it (ADR 0032).
Cancelling is lazy: it marks a kind and subject as gone up to the latest timer set, and the heap
is swept when the marks outnumber half the timers (amortised: each sweep follows as many
cancels as half what it reads)."""

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
        #: (kind, subject) -> the last order cancelled: those timers set up to then are gone
        self._gone: dict[tuple[str, UUID | str], int] = {}
        self._undo = undo
        self._shown: tuple[float, tzinfo | None, datetime] | None = None  # next_due's last answer

    def _keep(self) -> None:
        def save() -> Callable[[], None]:
            heap, seq, gone = list(self._heap), self._seq, dict(self._gone)

            def restore() -> None:
                self._heap, self._seq, self._gone = heap, seq, gone

            return restore

        self._undo.keep_once("timers", save)

    def add(self, at: datetime, kind: str, subject: UUID | str, detail: UUID | None = None) -> None:
        self._keep()
        self._seq += 1
        heapq.heappush(self._heap, (at.timestamp(), self._seq, kind, subject, detail))

    def cancel(self, kind: str, subject: UUID | str) -> None:
        """Every timer of ``kind`` for ``subject`` set so far is gone (one set later is not)."""
        self._keep()
        self._gone[(kind, subject)] = self._seq
        if len(self._gone) > 64 + len(self._heap) // 2:
            self._heap = [t for t in self._heap if not self._cancelled(t)]
            heapq.heapify(self._heap)
            self._gone.clear()  # what was marked is swept; any later timer is not marked

    def _cancelled(self, timer: Timer) -> bool:
        gone = self._gone.get((timer[2], timer[3]))
        return gone is not None and timer[1] <= gone

    def due(self, now: datetime) -> Iterator[tuple[str, UUID | str, UUID | None]]:
        """The timers due by ``now``, earliest first (each taken off as it is handed out)."""
        t = now.timestamp()
        if self._heap and self._heap[0][0] <= t:
            self._keep()
        while self._heap and self._heap[0][0] <= t:
            timer = heapq.heappop(self._heap)
            if not self._cancelled(timer):
                _, _, kind, subject, detail = timer
                yield kind, subject, detail

    def next_due(self, tz: tzinfo | None) -> datetime | None:
        """When the next timer not cancelled comes due (the cancelled ones before it are dropped:
        they would only be skipped)."""
        while self._heap and self._cancelled(self._heap[0]):
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        at = self._heap[0][0]
        shown = self._shown  # asked after every step, mostly of the same timer: its moment made once
        if shown is None or shown[0] != at or shown[1] is not tz:
            shown = self._shown = (at, tz, datetime.fromtimestamp(at, tz=tz))
        return shown[2]

    def snapshot(self) -> list[Timer]:
        return sorted(t for t in self._heap if not self._cancelled(t))
