"""Dialling order (R11) and the one contact-queue fold.

R11: first callbacks whose time has passed, oldest appointment first, then higher contact priority;
then the others, oldest created first, fewest previous attempts first (then higher priority).

``fold_queue`` is the contact's state machine as far as the queue is concerned (its state, priority,
assigned agent, attempts, redial and callback times). The ContactAttempt aggregate folds its events
through it before its own details, and every queue view (the in-memory ``LiveQueue``, the persisted
view in ``adapters.views.queue``) keeps an ``Entry`` folded by it: the rule is written once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from dialer_domain.model.events import (
    AttemptsExhausted,
    CallbackCancelled,
    CallbackMoved,
    CallbackScheduled,
    CallEnded,
    CampaignSelectionChanged,
    ContactAssigned,
    ContactClosed,
    ContactImported,
    ContactOffered,
    ContactOfferReleased,
    ContactQueued,
    ContactReinstated,
    ContactReopened,
    ContactReturnedToList,
    ContactUpdated,
    ContactWithdrawn,
    DialAttempted,
    DomainEvent,
)
from dialer_domain.model.values import CallOutcome, ContactData, ContactState
from dialer_domain.rules.selection import Compiled, contact_facts

OrderKey = tuple[float | str, ...]

#: R13: a contact an agent holds until it is processed (counted against the campaign's ``max_held``).
UNPROCESSED_STATES = (ContactState.NEW, ContactState.PENDING, ContactState.QUEUED, ContactState.CALLBACK_SCHEDULED)
#: A contact with a call (or the offer of one) in progress.
IN_CALL_STATES = (ContactState.OFFERED, ContactState.DIALLING, ContactState.CONNECTED)
#: R13: a contact that may be assigned (by an agent's obtain or automatic assignment).
ASSIGNABLE_STATES = (ContactState.NEW, ContactState.PENDING)


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


def dialling_order_key(
    *, callback_at: datetime | None, priority: int, created_at: datetime, attempts: int, sort: str = "", numbers: int = 1
) -> OrderKey:
    """The R11 sort key of a due contact (smaller first): callbacks, oldest appointment first, then
    higher priority; then the others, in the campaign's sort order (R10, ``sort``: its token) and
    within it oldest created first, fewest previous attempts first, higher priority first.

    R8: a contact's attempts count by whole passes through its ``numbers``: the next number after one
    not answered is the same turn, dialled before contacts that have had as many passes but are
    not in the middle of one (so its second number does not wait behind every fresh contact)."""
    if callback_at is not None:
        return (0.0, "", callback_at.timestamp(), -float(priority), 0.0)
    n = max(1, numbers)
    passes = attempts // n - (0.5 if attempts % n else 0.0)
    return (1.0, sort, created_at.timestamp(), passes, -float(priority))


class QueueFacts(Protocol):
    """What the queue knows of a contact; the aggregate and every queue entry have these."""

    priority: int
    assigned_agent: str | None
    attempts: int
    callback_at: datetime | None
    next_dial_at: datetime | None
    state: ContactState
    state_before_queue: ContactState


def fold_queue(f: QueueFacts, event: DomainEvent) -> bool:
    """Fold one of a contact's events into its queue facts; False if the event does not touch them.
    (``ContactImported`` makes the facts: see ``Entry.imported`` and ``ContactAttempt``.)"""
    match event:
        case ContactUpdated():
            f.priority = event.priority
        case ContactAssigned():
            f.assigned_agent = event.agent_id
        case ContactReinstated():
            f.priority = event.priority
            f.attempts = 0
            f.callback_at = None
            f.next_dial_at = event.timestamp
            f.state = ContactState.NEW
        case ContactQueued():
            f.state_before_queue = f.state
            f.state = ContactState.QUEUED
        case ContactReturnedToList():
            f.state = f.state_before_queue
            if event.not_before is not None:  # not queued again before then (the callee's hours)
                if f.state is ContactState.CALLBACK_SCHEDULED:
                    f.callback_at = max(f.callback_at or event.not_before, event.not_before)
                else:
                    f.next_dial_at = max(f.next_dial_at or event.not_before, event.not_before)
        case ContactWithdrawn():
            f.state = ContactState.WITHDRAWN
        case ContactOffered():
            f.state = ContactState.OFFERED
        case ContactOfferReleased():
            f.state = ContactState.QUEUED
        case DialAttempted():
            f.state = ContactState.DIALLING
        case CallEnded():
            if event.counts_as_attempt:
                f.attempts += 1
            f.callback_at = None
            if event.outcome is CallOutcome.COMPLETED:
                f.state = ContactState.DONE
                f.next_dial_at = None
            else:
                f.state = ContactState.PENDING
                f.next_dial_at = event.next_dial_at
        case AttemptsExhausted():
            f.state = ContactState.EXHAUSTED
            f.next_dial_at = None
        case CallbackScheduled():
            f.state = ContactState.CALLBACK_SCHEDULED
            f.callback_at = event.callback_at
            f.attempts = 0
            f.next_dial_at = None
        case CallbackMoved():
            f.callback_at = event.callback_at
        case CallbackCancelled():
            f.state = event.then
            f.callback_at = None
            f.next_dial_at = event.timestamp if event.then is ContactState.PENDING else None
        case ContactReopened():
            f.state = ContactState.PENDING
            f.next_dial_at = event.next_dial_at
        case ContactClosed():
            f.state = ContactState.DONE
            f.callback_at = None
            f.next_dial_at = None
        case _:
            return False
    return True


class Entry:
    """One contact as a queue view sees it: its queue facts, its campaign and creation, and a stamp
    that tells a view's heap items from stale ones."""

    __slots__ = (
        "assigned_agent",
        "attempts",
        "callback_at",
        "campaign_id",
        "contact_id",
        "contact_key",
        "created_at",
        "data",
        "next_dial_at",
        "numbers",
        "priority",
        "selection",
        "stamp",
        "state",
        "state_before_queue",
    )

    def __init__(
        self,
        contact_id: UUID,
        campaign_id: UUID,
        created_at: datetime,
        priority: int,
        agent: str | None,
        key: str = "",
        data: ContactData | None = None,
        numbers: int = 1,
    ) -> None:
        self.contact_id = contact_id
        self.numbers = numbers  # how many numbers the contact has (R8's turns)
        self.contact_key = key
        self.data = data if data is not None else ContactData()
        self.selection: Compiled | None = None  # the campaign's list selection (R10), set by the view
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
        e = event
        return cls(e.originator_id, e.campaign_id, e.timestamp, e.priority, e.assigned_agent, e.key, e.data, len(e.numbers))

    def facts(self) -> dict[str, object]:
        return contact_facts(self.contact_key, self.data, self.priority, self.assigned_agent)

    def key(self) -> OrderKey:
        sel = self.selection
        sort = sel.token(self.facts()) if sel is not None and sel.sort and self.callback_at is None else ""
        return dialling_order_key(
            callback_at=self.callback_at, priority=self.priority, created_at=self.created_at, attempts=self.attempts, sort=sort, numbers=self.numbers
        )

    def filtered_out(self) -> bool:
        """In the list but left out by the campaign's active filter (R10; a callback never is)."""
        sel = self.selection
        return (
            sel is not None
            and sel.filter is not None
            and self.state in (ContactState.NEW, ContactState.PENDING)
            and not sel.selects(self.facts())
        )

    def due_at(self) -> datetime | None:
        """When the contact may next be taken from the list (None: not from the list, or filtered out)."""
        if self.filtered_out():
            return None
        return list_due_at(self.state, next_dial_at=self.next_dial_at, created_at=self.created_at, callback_at=self.callback_at)

    def apply(self, event: DomainEvent) -> bool:
        """Fold one of the contact's events; False if the queue does not care about it."""
        if isinstance(event, ContactUpdated | ContactReinstated):
            self.data = event.data
            self.numbers = len(event.numbers)
        return fold_queue(self, event)


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
    CallbackMoved,
    CallbackCancelled,
    ContactClosed,
    ContactReopened,
    CampaignSelectionChanged,  # R10: the campaign's filter and sort order re-key its entries (the views handle it)
)
