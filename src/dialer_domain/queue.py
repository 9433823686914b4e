"""Dialling order (R11) and the live queue: a fold of contact events into heaps, so the engine takes
its next contacts in order without scanning the list.

R11: first callbacks whose time has passed, oldest appointment first, then higher contact priority;
then the others, oldest created first, fewest previous attempts first (then higher priority).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
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
from dialer_domain.ports import RecordedEvent
from dialer_domain.values import CallOutcome, ContactState

OrderKey = tuple[float, ...]


def list_due_at(state: ContactState, *, next_dial_at: datetime | None, created_at: datetime | None, callback_at: datetime | None) -> datetime | None:
    """When a contact in the list may next be queued (R5's redial gap, R12's appointment); None
    when it is not in the list."""
    if state is ContactState.NEW:
        return next_dial_at or created_at
    if state is ContactState.PENDING:
        return next_dial_at
    if state is ContactState.CALLBACK_SCHEDULED:
        return callback_at
    return None


def dialling_order_key(*, callback_at: datetime | None, priority: int, created_at: datetime, attempts: int) -> OrderKey:
    """The R11 sort key of a due contact (smaller first)."""
    if callback_at is not None:
        return (0.0, callback_at.timestamp(), -float(priority))
    return (1.0, created_at.timestamp(), float(attempts), -float(priority))


class Entry:
    """One contact as the queue sees it: what decides whether and when it is dialable, and its order."""

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

    @classmethod
    def imported(cls, event: ContactImported) -> Entry:
        return cls(event.originator_id, event.campaign_id, event.timestamp, event.priority, event.assigned_agent)

    def key(self) -> OrderKey:
        return dialling_order_key(callback_at=self.callback_at, priority=self.priority, created_at=self.created_at, attempts=self.attempts)

    def due_at(self) -> datetime | None:
        """When the contact may next be taken from the list (None: not from the list)."""
        return list_due_at(self.state, next_dial_at=self.next_dial_at, created_at=self.created_at, callback_at=self.callback_at)

    def apply(self, event: DomainEvent) -> bool:
        """Fold one of the contact's events; False if the queue does not care about it."""
        match event:
            case ContactUpdated():
                self.priority = event.priority
            case ContactAssigned():
                self.assigned_agent = event.agent_id
            case ContactReinstated():
                self.priority = event.priority
                self.attempts = 0
                self.callback_at = None
                self.next_dial_at = event.timestamp
                self.state = ContactState.NEW
            case ContactQueued():
                self.state_before_queue = self.state
                self.state = ContactState.QUEUED
            case ContactReturnedToList():
                self.state = self.state_before_queue
            case ContactWithdrawn():
                self.state = ContactState.WITHDRAWN
            case ContactOffered():
                self.state = ContactState.OFFERED
            case ContactOfferReleased():
                self.state = ContactState.QUEUED
            case DialAttempted():
                self.state = ContactState.DIALLING
            case CallEnded():
                if event.counts_as_attempt:
                    self.attempts += 1
                self.callback_at = None
                if event.outcome is CallOutcome.COMPLETED:
                    self.state = ContactState.DONE
                else:
                    self.next_dial_at = event.next_dial_at
                    self.state = ContactState.PENDING
            case AttemptsExhausted():
                self.state = ContactState.EXHAUSTED
            case CallbackScheduled():
                self.callback_at = event.callback_at
                self.attempts = 0
                self.state = ContactState.CALLBACK_SCHEDULED
            case _:
                return False
        return True


#: The events that change a contact's place in the queue.
QUEUE_EVENTS = (
    ContactImported,
    ContactUpdated,
    ContactAssigned,
    ContactReinstated,
    ContactQueued,
    ContactReturnedToList,
    ContactWithdrawn,
    ContactOffered,
    ContactOfferReleased,
    DialAttempted,
    CallEnded,
    AttemptsExhausted,
    CallbackScheduled,
)


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
        self._stamp = 0

    # ------------------------------------------------------------------ fold

    def observe(self, batch: Sequence[RecordedEvent]) -> None:
        for rec in batch:
            self.apply(rec.event)

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ContactImported):
            e = self.entries[event.originator_id] = Entry.imported(event)
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

    def assigned_unprocessed(self, campaign_id: UUID, agent_id: str) -> int:
        live = (ContactState.NEW, ContactState.PENDING, ContactState.QUEUED, ContactState.CALLBACK_SCHEDULED)
        return sum(1 for e in self.entries.values() if e.campaign_id == campaign_id and e.assigned_agent == agent_id and e.state in live)
