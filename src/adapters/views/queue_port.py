"""The engine's ``QueueView`` port on the persisted queue view (``adapters.views.queue``)."""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from adapters.persistence.eventstore import RecorderEventStore
from adapters.views.base import GenerationSwitched, PositionMoved, catch_up
from adapters.views.queue import ENTRY_CACHE, QueueProjection, QueueViewMixin, entry_row
from dialer_domain.model.events import CampaignSelectionChanged
from dialer_domain.rules.ordering import QUEUE_EVENTS, Entry
from dialer_domain.service_layer.ports import RecordedEvent

log = logging.getLogger(__name__)


class PersistedQueue:
    """The engine's ``QueueView`` port on the persisted view. Before it answers, it brings the live
    generation up to what the engine has seen: the events the engine hands it (its own commits and
    what it read) are folded directly into the entries it keeps in memory; after a gap (on start,
    or when another writer moved the view) it catches up from the log, reading only queue events.

    What it folded is written (the changed rows and the tracking position, one transaction) before
    any answer read from the view, and otherwise at the latest ``write_after_seconds`` after the
    first fold not written yet, or once ``batch_size`` contacts changed: an answer it keeps (the
    queued counts, the appointments, the heads of the queues) needs no write first, so a page
    carries the changes of many engine commits, a contact changed twice in it is one row, and
    another reader sees the view at most that long behind the engine (ADR 0040). It looks for a
    rebuilt generation each time it writes, and at least every ``generation_check_seconds`` when it
    only answers."""

    replays_log = False

    def __init__(
        self,
        store: RecorderEventStore,
        view: QueueViewMixin,
        batch_size: int = 5000,
        generation_check_seconds: float = 2.0,
        write_after_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.view = view
        self.batch_size = batch_size
        self.generation_check_seconds = generation_check_seconds
        self.write_after_seconds = write_after_seconds
        self._projection = QueueProjection(view)
        self._gen = 0
        self._gen_checked = -1e18
        self._tracked: int | None = None  # the generation's tracking position (written), None: read it from the view
        self._folded = 0  # every queue event up to here is folded into ``_carry`` (written up to ``_tracked``)
        self._dirty: dict[UUID, tuple[Entry, int]] = {}  # the entries folded and not written yet
        self._dirty_since: float | None = None
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
        """Bring the live generation up to what the engine has seen, written; returns how many
        events were folded."""
        return self._bring_up(write=True)

    def _bring_up(self, write: bool) -> int:
        """Fold what the engine has seen; with ``write``, write it too. The look for a rebuilt
        generation rides in the transaction of what it writes; it takes one of its own only when
        there is nothing to write.

        The campaigns' queued counts are kept across a fold of the engine's own events, moved by
        what the fold says it moved, and so are their appointments, unless the fold says it changed
        them, and the heads of their queues read so far, less the contacts that left the queue,
        unless a contact of the campaign is queued after the fold (it may stand anywhere); any
        other refresh (a catch-up, a new generation, a look with nothing to fold, a failure)
        forgets them all, so they are read again from the view."""
        counted = True  # the answers kept hold, unless a look of its own, a catch-up or a failure says otherwise
        try:
            if write and (self._tracked is None or (self._folded == self._tracked and not any(r.position > self._folded for r in self._pending))):
                counted = False
                self._gen_checked = time.monotonic()
                gen = self.view.live_generation()
                if gen != self._gen:  # a rebuild switched generations: catch the new one up
                    self._gen, self._tracked = gen, None
            done = 0
            for _ in range(3):
                try:
                    if self._tracked is None:
                        counted = False
                        self._forget()
                        head = self.store.max_position()
                        done += catch_up(self.store, self.view, self._gen, self.batch_size, prefetch=False)
                        self._seen = head
                        self._tracked = self._folded = self.view.gen_position(self._gen)
                    pending = [r for r in self._pending if r.position > self._folded]
                    self._pending.clear()
                    if pending:
                        self._fold(pending)
                        done += len(pending)
                    if write or len(self._dirty) >= self.batch_size or (
                        self._dirty_since is not None and time.monotonic() - self._dirty_since >= self.write_after_seconds
                    ):
                        self._write()
                    break
                except PositionMoved:  # another writer (a follower) moved the view: catch up from where it is
                    self._tracked, counted = None, False
                except GenerationSwitched as switched:  # a rebuild switched generations: catch the new one up
                    self._gen, self._tracked, counted = switched.live, None, False
                except Exception:
                    self._tracked, counted = None, False  # what was folded and not written: folded again from the log
                    raise
        finally:
            if not counted:
                self._counts.clear()
                self._callback_times.clear()
                self._windows.clear()
        return done

    def _fold(self, pending: list[RecordedEvent]) -> None:
        """The engine's events into the entries kept in memory, and what they moved into the
        answers kept. A campaign's new selection re-keys its entries as the view stores them, so
        what was folded before is written first, and the page with it at once."""
        reselects = any(isinstance(r.event, CampaignSelectionChanged) for r in pending)
        if reselects or len(self._carry) > ENTRY_CACHE:
            self._write()  # before the entries kept are read again from the view, or let go
        if reselects:
            assert self._tracked is not None
            moved = self._projection.fold(self._gen, self._tracked, pending, self._carry, live_only=True)
            self._gen_checked = time.monotonic()
            self._tracked = self._folded = pending[-1].position
        else:
            moved, changed, _ = self._projection.apply(self._gen, pending, self._carry)
            self._dirty.update(changed)
            self._folded = pending[-1].position
            if self._dirty_since is None:
                self._dirty_since = time.monotonic()
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

    def _write(self) -> None:
        """What was folded and not written yet: its rows and its position, while the generation is
        live, in one transaction."""
        if self._tracked is None or self._folded == self._tracked:
            return
        rows = [entry_row(self._gen, e, seq) for e, seq in self._dirty.values()]
        self.view.commit_entries(self._gen, self._tracked, rows, self._folded, (), live_only=True)
        self._gen_checked = time.monotonic()
        self._tracked = self._folded
        self._dirty.clear()
        self._dirty_since = None

    def close(self) -> None:
        """What was folded and not written yet, written (on the store's close, before the view's).
        A failure is logged and left to the next catch-up: the log holds every event."""
        if self._tracked is None or (self._folded == self._tracked and not self._pending):
            return
        left = max(self._folded, self._seen) - self._tracked
        try:
            self.refresh()
        except Exception as e:  # the view is a projection of the log: the next port catches it up
            log.warning("the queue view's last %d folded positions were not written (%s); the next start catches them up", left, type(e).__name__)

    def _forget(self) -> None:
        """Before a catch-up: nothing kept, nothing owed."""
        self._counts.clear()
        self._pending.clear()
        self._carry.clear()
        self._dirty.clear()
        self._dirty_since = None

    def generation(self) -> int:
        """The live generation, brought up to what the engine has seen and written (for readers
        besides the engine, and before an answer read from the view)."""
        if self._tracked is None or self._pending or self._folded != self._tracked or self._check_due():
            self.refresh()
        return self._gen

    def _fresh(self) -> int:
        """The live generation, brought up to what the engine has seen, for an answer the port
        keeps: written only when due."""
        if self._tracked is None or self._check_due():
            self.refresh()
        elif self._pending or self._dirty_since is not None:
            self._bring_up(write=False)
        return self._gen

    def _check_due(self) -> bool:
        return time.monotonic() - self._gen_checked >= self.generation_check_seconds

    def take_due(self, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """The due contacts, their entries kept for the fold of what the engine does with them next
        (queue them), which would otherwise read them again. They are as the view holds them at
        the position the port has folded to; if another writer moved it meanwhile, the next fold is
        refused and the catch-up forgets them."""
        found = self.view.due_entries(self.generation(), campaign_id, now, limit, agent_owned)
        if self._tracked is not None:
            self._carry.update((e.contact_id, (e, seq)) for e, seq in found)
        return [e.contact_id for e, _ in found]

    def next_queued(self, campaign_id: UUID, agent_id: str | None = None, exclude: frozenset[UUID] = frozenset()) -> UUID | None:
        self._fresh()
        want = len(exclude) + 1
        window = self._windows.get((campaign_id, agent_id))
        if window is None or (len(window[0]) < want and not window[1]):
            size = max(64, 2 * want)
            ids = self.view.first_queued(self.generation(), campaign_id, agent_id, size)
            window = self._windows[(campaign_id, agent_id)] = (ids, len(ids) < size)
        for cid in window[0]:
            if cid not in exclude:
                return cid
        return None

    def queued(self, campaign_id: UUID) -> list[UUID]:
        return self.view.queued_ids(self.generation(), campaign_id)

    def callbacks(self, campaign_id: UUID, now: datetime) -> tuple[int, datetime | None]:
        """Asked at every queue run: the appointments are read once, then kept until a fold changes
        them (``refresh``)."""
        self._fresh()
        times = self._callback_times.get(campaign_id)
        if times is None:
            gen = self.generation()
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
        self._fresh()
        n = self._counts.get(campaign_id)
        if n is None:
            gen = self.generation()
            n = self._counts[campaign_id] = self.view.count_queued(gen, campaign_id)
        return n
