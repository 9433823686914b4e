"""The live queue: the QueueView port as an in-memory fold of contact events into heaps, so the
engine takes its next contacts in R11 order (``rules.ordering``) without scanning the list."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from dialer_domain.model.events import CampaignSelectionChanged, ContactImported, DomainEvent
from dialer_domain.model.values import ContactState
from dialer_domain.rules.ordering import ASSIGNABLE_STATES, IN_CALL_STATES, UNPROCESSED_STATES, Entry, OrderKey
from dialer_domain.rules.selection import Compiled, compiled
from dialer_domain.service_layer.ports import RecordedEvent

_HeapItem = tuple[OrderKey, int, UUID]
_WaitItem = tuple[float, int, UUID]


class LiveQueue:
    """The queue as an in-memory fold: per campaign, contacts waiting for their time, due contacts
    in the list, and queued ones, in heaps (O(log n) a step). It replays the log on start."""

    replays_log = True

    def __init__(self) -> None:
        self.entries: dict[UUID, Entry] = {}
        self._waiting: dict[UUID, list[_WaitItem]] = defaultdict(list)
        self._due: dict[UUID, list[_HeapItem]] = defaultdict(list)
        self._queued: dict[UUID, list[_HeapItem]] = defaultdict(list)
        self._queued_by_agent: dict[tuple[UUID, str], list[_HeapItem]] = defaultdict(list)
        self._queued_count: dict[UUID, int] = defaultdict(int)
        self._callbacks: dict[UUID, list[_WaitItem]] = defaultdict(list)  # appointments in the list, earliest first
        self._stamp = 0
        self.selections: dict[UUID, Compiled] = {}  # each campaign's list selection (R10)

    # ------------------------------------------------------------------ fold

    def observe(self, batch: Sequence[RecordedEvent]) -> None:
        for rec in batch:
            self.apply(rec.event)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ContactImported):
            e = self.entries[event.originator_id] = Entry.imported(event)
            e.selection = self.selections.get(event.campaign_id)
            self._place(e)
            return
        if isinstance(event, CampaignSelectionChanged):  # R10: every entry of the campaign takes its new place
            comp = self.selections[event.originator_id] = compiled(event.selection)
            for e in sorted((e for e in self.entries.values() if e.campaign_id == event.originator_id), key=lambda e: e.stamp):
                e.selection = comp  # restamped in their order so far: ties keep it, as in the persisted view
                self._place(e)
            return
        found = self.entries.get(event.originator_id)
        if found is None:
            return
        was_queued = found.state is ContactState.QUEUED
        if not found.apply(event):
            return
        now_queued = found.state is ContactState.QUEUED
        if was_queued != now_queued:
            self._queued_count[found.campaign_id] += 1 if now_queued else -1
        self._place(found)

    def _place(self, e: Entry) -> None:
        self._stamp += 1
        e.stamp = self._stamp
        if e.state is ContactState.QUEUED:
            item = (e.key(), e.stamp, e.contact_id)
            heapq.heappush(self._queued[e.campaign_id], item)
            if e.assigned_agent is not None:
                heapq.heappush(self._queued_by_agent[(e.campaign_id, e.assigned_agent)], item)
            return
        due = e.due_at()
        if due is not None:
            heapq.heappush(self._waiting[e.campaign_id], (due.timestamp(), e.stamp, e.contact_id))
            if e.state is ContactState.CALLBACK_SCHEDULED:
                heapq.heappush(self._callbacks[e.campaign_id], (due.timestamp(), e.stamp, e.contact_id))

    # ------------------------------------------------------------------ queries

    def take_due(self, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """Up to ``limit`` due list contacts of the campaign in R11 order (they stay in the index;
        the ContactQueued events that follow move them). ``agent_owned`` takes only assigned ones."""
        waiting = self._waiting[campaign_id]
        due = self._due[campaign_id]
        t = now.timestamp()
        while waiting and waiting[0][0] <= t:
            _, stamp, cid = heapq.heappop(waiting)
            e = self.entries[cid]
            if e.stamp == stamp:
                heapq.heappush(due, (e.key(), stamp, cid))
        out: list[UUID] = []
        skipped: list[_HeapItem] = []
        while due and len(out) < limit:
            item = heapq.heappop(due)
            e = self.entries[item[2]]
            if e.stamp != item[1]:
                continue
            if agent_owned and e.assigned_agent is None:
                skipped.append(item)
                continue
            out.append(item[2])
            skipped.append(item)  # keep until its ContactQueued restamps it
        for item in skipped:
            heapq.heappush(due, item)
        return out

    def next_queued(self, campaign_id: UUID, agent_id: str | None = None, exclude: frozenset[UUID] = frozenset()) -> UUID | None:
        """The first queued contact in R11 order (an agent's own, for auto mode), without removing it."""
        heap = self._queued_by_agent[(campaign_id, agent_id)] if agent_id is not None else self._queued[campaign_id]
        stash: list[_HeapItem] = []
        found: UUID | None = None
        while heap:
            item = heap[0]
            e = self.entries[item[2]]
            if e.stamp != item[1] or e.state is not ContactState.QUEUED or (agent_id is not None and e.assigned_agent != agent_id):
                heapq.heappop(heap)
                continue
            if item[2] in exclude:
                stash.append(heapq.heappop(heap))
                continue
            found = item[2]
            break
        for item in stash:
            heapq.heappush(heap, item)
        return found

    def queued(self, campaign_id: UUID) -> list[UUID]:
        """The campaign's queued contacts in R11 order."""
        live = [e for e in self.entries.values() if e.campaign_id == campaign_id and e.state is ContactState.QUEUED]
        return [e.contact_id for e in sorted(live, key=lambda e: (e.key(), e.stamp))]

    def queued_count(self, campaign_id: UUID) -> int:
        return self._queued_count[campaign_id]

    def callbacks(self, campaign_id: UUID, now: datetime) -> tuple[int, datetime | None]:
        heap = self._callbacks[campaign_id]
        t = now.timestamp()
        due: list[_WaitItem] = []
        later: datetime | None = None
        while heap:
            item = heap[0]
            e = self.entries[item[2]]
            if e.stamp != item[1] or e.state is not ContactState.CALLBACK_SCHEDULED:
                heapq.heappop(heap)  # moved, queued, dialled or cancelled since
                continue
            if item[0] > t:
                later = e.callback_at
                break
            due.append(heapq.heappop(heap))
        for item in due:
            heapq.heappush(heap, item)
        return len(due), later

    def listed(self, campaign_id: UUID) -> tuple[int, int]:
        selected = left_out = 0
        for e in self.entries.values():
            if e.campaign_id == campaign_id and e.state in (ContactState.NEW, ContactState.PENDING):
                if e.filtered_out():
                    left_out += 1
                else:
                    selected += 1
        return selected, left_out

    def in_progress(self) -> list[UUID]:
        return [e.contact_id for e in self.entries.values() if e.state in IN_CALL_STATES]

    def held_by(self, campaign_id: UUID, agent_id: str) -> int:
        mine = (e for e in self.entries.values() if e.campaign_id == campaign_id and e.assigned_agent == agent_id)
        return sum(1 for e in mine if e.state in UNPROCESSED_STATES)

    def unassigned(self, campaign_id: UUID, limit: int | None = None) -> list[UUID]:
        free = [e for e in self.entries.values() if e.campaign_id == campaign_id and e.assigned_agent is None and e.state in ASSIGNABLE_STATES]
        free.sort(key=lambda e: (e.key(), e.stamp))
        return [e.contact_id for e in free[:limit]]
