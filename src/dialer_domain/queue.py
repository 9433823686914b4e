"""Dialling order (R11) and the live queue: a fold of contact events into heaps, so the engine takes
its next contacts in order without scanning the list.

R11: first callbacks whose time has passed, oldest appointment first, then higher contact priority;
then the others, oldest created first, fewest previous attempts first (then higher priority).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from datetime import datetime
from uuid import UUID

from dialer_domain.events import (
    AttemptsExhausted,
    CallbackScheduled,
    CallEnded,
    ContactAssigned,
    ContactImported,
    ContactOffered,
    ContactOfferReleased,
    ContactQueued,
    ContactReinstated,
    ContactReturnedToList,
    ContactUpdated,
    ContactWithdrawn,
    DialAttempted,
    DomainEvent,
)
from dialer_domain.values import CallOutcome, ContactState

OrderKey = tuple[float, ...]


def dialling_order_key(*, callback_at: datetime | None, priority: int, created_at: datetime, attempts: int) -> OrderKey:
    """The R11 sort key of a due contact (smaller first)."""
    if callback_at is not None:
        return (0.0, callback_at.timestamp(), -float(priority))
    return (1.0, created_at.timestamp(), float(attempts), -float(priority))


class Entry:
    __slots__ = (
        "assigned_agent",
        "attempts",
        "callback_at",
        "campaign_id",
        "contact_id",
        "created_at",
        "next_dial_at",
        "priority",
        "stamp",
        "state",
        "state_before_queue",
    )

    def __init__(self, contact_id: UUID, campaign_id: UUID, created_at: datetime, priority: int, agent: str | None) -> None:
        self.contact_id = contact_id
        self.campaign_id = campaign_id
        self.created_at = created_at
        self.priority = priority
        self.assigned_agent = agent
        self.attempts = 0
        self.callback_at: datetime | None = None
        self.next_dial_at: datetime | None = None
        self.state = ContactState.NEW
        self.state_before_queue = ContactState.NEW
        self.stamp = 0

    def key(self) -> OrderKey:
        return dialling_order_key(callback_at=self.callback_at, priority=self.priority, created_at=self.created_at, attempts=self.attempts)

    def due_at(self) -> datetime | None:
        if self.state is ContactState.NEW:
            return self.next_dial_at or self.created_at
        if self.state is ContactState.PENDING:
            return self.next_dial_at
        if self.state is ContactState.CALLBACK_SCHEDULED:
            return self.callback_at
        return None


_HeapItem = tuple[OrderKey, int, UUID]
_WaitItem = tuple[float, int, UUID]


class LiveQueue:
    """Per campaign: contacts waiting for their time, due contacts in the list, and queued ones."""

    def __init__(self) -> None:
        self.entries: dict[UUID, Entry] = {}
        self._waiting: dict[UUID, list[_WaitItem]] = defaultdict(list)
        self._due: dict[UUID, list[_HeapItem]] = defaultdict(list)
        self._queued: dict[UUID, list[_HeapItem]] = defaultdict(list)
        self._queued_by_agent: dict[tuple[UUID, str], list[_HeapItem]] = defaultdict(list)
        self.queued_count: dict[UUID, int] = defaultdict(int)
        self._stamp = 0

    # ------------------------------------------------------------------ fold

    def apply(self, event: DomainEvent) -> None:
        cid = event.originator_id
        if isinstance(event, ContactImported):
            e = Entry(cid, event.campaign_id, event.timestamp, event.priority, event.assigned_agent)
            self.entries[cid] = e
            self._place(e)
            return
        e_opt = self.entries.get(cid)
        if e_opt is None:
            return
        e = e_opt
        match event:
            case ContactUpdated():
                e.priority = event.priority
                self._place(e)
            case ContactAssigned():
                e.assigned_agent = event.agent_id
                self._place(e)
            case ContactReinstated():
                e.priority = event.priority
                e.attempts = 0
                e.callback_at = None
                e.next_dial_at = event.timestamp
                self._set_state(e, ContactState.NEW)
            case ContactQueued():
                e.state_before_queue = e.state
                self._set_state(e, ContactState.QUEUED)
            case ContactReturnedToList():
                self._set_state(e, e.state_before_queue)
            case ContactWithdrawn():
                self._set_state(e, ContactState.WITHDRAWN)
            case ContactOffered():
                self._set_state(e, ContactState.OFFERED)
            case ContactOfferReleased():
                self._set_state(e, ContactState.QUEUED)
            case DialAttempted():
                self._set_state(e, ContactState.DIALLING)
            case CallEnded():
                if event.counts_as_attempt:
                    e.attempts += 1
                e.callback_at = None
                if event.outcome is CallOutcome.COMPLETED:
                    self._set_state(e, ContactState.DONE)
                else:
                    e.next_dial_at = event.next_dial_at
                    self._set_state(e, ContactState.PENDING)
            case AttemptsExhausted():
                self._set_state(e, ContactState.EXHAUSTED)
            case CallbackScheduled():
                e.callback_at = event.callback_at
                e.attempts = 0
                self._set_state(e, ContactState.CALLBACK_SCHEDULED)
            case _:
                pass

    def _set_state(self, e: Entry, state: ContactState) -> None:
        if e.state is ContactState.QUEUED and state is not ContactState.QUEUED:
            self.queued_count[e.campaign_id] -= 1
        elif state is ContactState.QUEUED and e.state is not ContactState.QUEUED:
            self.queued_count[e.campaign_id] += 1
        e.state = state
        self._place(e)

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
        return [cid for cid, e in self.entries.items() if e.campaign_id == campaign_id and e.state is ContactState.QUEUED]

    def assigned_unprocessed(self, campaign_id: UUID, agent_id: str) -> int:
        live = (ContactState.NEW, ContactState.PENDING, ContactState.QUEUED, ContactState.CALLBACK_SCHEDULED)
        return sum(1 for e in self.entries.values() if e.campaign_id == campaign_id and e.assigned_agent == agent_id and e.state in live)
