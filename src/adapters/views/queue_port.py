"""The engine's ``QueueView`` port on the persisted queue view (``adapters.views.queue``)."""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from adapters.persistence.eventstore import RecorderEventStore
from adapters.views.base import GenerationSwitched, PositionMoved, catch_up
from adapters.views.queue import QueueProjection, QueueViewMixin
from dialer_domain.rules.ordering import QUEUE_EVENTS, Entry
from dialer_domain.service_layer.ports import RecordedEvent


class PersistedQueue:
    """The engine's ``QueueView`` port on the persisted view. Before it answers, it brings the live
    generation up to what the engine has seen: the events the engine hands it (its own commits and
    what it read) are folded directly, one transaction per engine commit, with the entries kept in
    memory between commits; after a gap (on start, or when another writer moved the view) it
    catches up from the log, reading only queue events. It looks for a rebuilt generation each time
    it folds, and at least every ``generation_check_seconds`` when it only answers."""

    replays_log = False

    def __init__(self, store: RecorderEventStore, view: QueueViewMixin, batch_size: int = 5000, generation_check_seconds: float = 2.0) -> None:
        self.store = store
        self.view = view
        self.batch_size = batch_size
        self.generation_check_seconds = generation_check_seconds
        self._projection = QueueProjection(view)
        self._gen = 0
        self._gen_checked = -1e18
        self._tracked: int | None = None  # the generation's tracking position, None: read it from the view
        self._seen = 0  # every queue event up to here is in ``_pending`` or folded
        self._pending: list[RecordedEvent] = []
        self._carry: dict[UUID, tuple[Entry, int]] = {}
        # answers that hold until the view next changes (the counts and appointments: see ``refresh``)
        self._counts: dict[UUID, int] = {}
        self._windows: dict[tuple[UUID, str | None], tuple[list[UUID], bool]] = {}
        self._callback_times: dict[UUID, list[float]] = {}

    def observe(self, batch: Sequence[RecordedEvent]) -> None:
        if not batch or self._tracked is None:
            return
        fresh = [r for r in batch if r.position > self._seen]
        if not fresh:
            return
        if fresh[0].position != self._seen + 1:
            self._tracked = None  # a gap: catch up from the log next time
            return
        self._pending.extend(r for r in fresh if isinstance(r.event, QUEUE_EVENTS))
        self._seen = fresh[-1].position

    def refresh(self) -> int:
        """Bring the live generation up to what the engine has seen; returns how many events were
        folded. The look for a rebuilt generation rides in the transaction of the events it folds;
        it takes one of its own only when there are none to fold.

        The campaigns' queued counts are kept across a fold of the engine's own events, moved by
        what the fold says it moved, and so are their appointments, unless the fold says it changed
        them, and the heads of their queues read so far, less the contacts that left the queue,
        unless a contact of the campaign is queued after the fold (it may stand anywhere); any
        other refresh (a catch-up, a new generation, a look with nothing to fold, a failure)
        forgets them all, so they are read again from the view."""
        self._gen_checked = time.monotonic()
        counted = False
        try:
            if self._tracked is None or not any(r.position > self._tracked for r in self._pending):
                gen = self.view.live_generation()
                if gen != self._gen:  # a rebuild switched generations: catch the new one up
                    self._gen, self._tracked = gen, None
            done = 0
            for _ in range(3):
                try:
                    if self._tracked is None:
                        self._counts.clear()
                        self._pending.clear()
                        self._carry.clear()
                        head = self.store.max_position()
                        done += catch_up(self.store, self.view, self._gen, self.batch_size, prefetch=False)
                        self._seen = head
                        self._tracked = self.view.gen_position(self._gen)
                    pending = [r for r in self._pending if r.position > self._tracked]
                    if pending:
                        moved = self._projection.fold(self._gen, self._tracked, pending, self._carry, live_only=True)
                        self._tracked = pending[-1].position
                        done += len(pending)
                        for campaign_id, n in moved.queued.items():
                            if campaign_id in self._counts:
                                self._counts[campaign_id] += n
                        for campaign_id in moved.callbacks:
                            self._callback_times.pop(campaign_id, None)
                        self._windows = {
                            key: ([c for c in ids if c not in moved.left], complete)
                            for key, (ids, complete) in self._windows.items()
                            if key[0] not in moved.reordered
                        }
                        counted = True
                    self._pending.clear()
                    break
                except PositionMoved:  # another writer (a follower) moved the view: catch up from where it is
                    self._tracked = None
                except GenerationSwitched as switched:  # a rebuild switched generations: catch the new one up
                    self._gen, self._tracked = switched.live, None
        finally:
            if not counted:
                self._counts.clear()
                self._callback_times.clear()
                self._windows.clear()
        return done

    def generation(self) -> int:
        """The live generation, brought up to what the engine has seen (for readers besides the engine)."""
        return self._fresh()

    def _fresh(self) -> int:
        if self._tracked is None or self._pending or time.monotonic() - self._gen_checked >= self.generation_check_seconds:
            self.refresh()
        return self._gen

    def take_due(self, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """The due contacts, their entries kept for the fold of what the engine does with them next
        (queue them), which would otherwise read them again. They are as the view holds them at
        the position the port has folded to; if another writer moved it meanwhile, the next fold is
        refused and the catch-up forgets them."""
        found = self.view.due_entries(self._fresh(), campaign_id, now, limit, agent_owned)
        if self._tracked is not None:
            self._carry.update((e.contact_id, (e, seq)) for e, seq in found)
        return [e.contact_id for e, _ in found]

    def next_queued(self, campaign_id: UUID, agent_id: str | None = None, exclude: frozenset[UUID] = frozenset()) -> UUID | None:
        gen = self._fresh()
        want = len(exclude) + 1
        window = self._windows.get((campaign_id, agent_id))
        if window is None or (len(window[0]) < want and not window[1]):
            size = max(64, 2 * want)
            ids = self.view.first_queued(gen, campaign_id, agent_id, size)
            window = self._windows[(campaign_id, agent_id)] = (ids, len(ids) < size)
        for cid in window[0]:
            if cid not in exclude:
                return cid
        return None

    def queued(self, campaign_id: UUID) -> list[UUID]:
        return self.view.queued_ids(self._fresh(), campaign_id)

    def callbacks(self, campaign_id: UUID, now: datetime) -> tuple[int, datetime | None]:
        """Asked at every queue run: the appointments are read once, then kept until a fold changes
        them (``refresh``)."""
        gen = self._fresh()
        times = self._callback_times.get(campaign_id)
        if times is None:
            times = self._callback_times[campaign_id] = self.view.callback_times(gen, campaign_id)
        due = bisect.bisect_right(times, now.timestamp())
        return due, datetime.fromtimestamp(times[due], UTC) if due < len(times) else None

    def listed(self, campaign_id: UUID) -> tuple[int, int]:
        return self.view.listed(self.generation(), campaign_id)

    def in_progress(self) -> list[UUID]:
        return self.view.in_progress(self.generation())

    def held_by(self, campaign_id: UUID, agent_id: str) -> int:
        return self.view.held_by(self.generation(), campaign_id, agent_id)

    def unassigned(self, campaign_id: UUID, limit: int | None = None) -> list[UUID]:
        return self.view.unassigned(self.generation(), campaign_id, limit)

    def queued_count(self, campaign_id: UUID) -> int:
        gen = self._fresh()
        n = self._counts.get(campaign_id)
        if n is None:
            n = self._counts[campaign_id] = self.view.count_queued(gen, campaign_id)
        return n
