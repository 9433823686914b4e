"""The ContactAttempt aggregate: one contact in one campaign and every attempt on it.

Rules here: attempts per number and per contact (R5, R14), the minimum redial delay (R5), the next
number when one is not answered (R8), callbacks (R12), dispositions (R18), and R6 (a call whose
agent leg hung up before the maximum ring time is not an attempt).
"""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import attrs

from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.contact_wrapup import WrapUp
from dialer_domain.model.errors import InvalidValue, NotAllowed
from dialer_domain.model.events import (
    AttemptsExhausted,
    CallAbandoned,
    CallbackCancelled,
    CallbackMoved,
    CallbackScheduled,
    CallConnected,
    CallEnded,
    CallPlaced,
    CallProgressed,
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
    DispositionRecorded,
    DomainEvent,
    NumberSkipped,
)
from dialer_domain.model.text import check_agent_id
from dialer_domain.model.values import CallOutcome, CampaignSettings, ContactData, ContactState, DialMode, PhoneNumber
from dialer_domain.rules import ordering
from dialer_domain.rules.calling_hours import CalleeTime
from dialer_domain.rules.contacts import DEAD_NUMBER, NumbersTried, check_contact, exhaustion_reason, next_dial_after, next_number, outcome_limit
from dialer_domain.rules.ordering import fold_queue, list_due_at

#: States from which a contact may be put in the campaign queue once it is due.
LIST_STATES = frozenset({ContactState.NEW, ContactState.PENDING, ContactState.CALLBACK_SCHEDULED})
#: States in which a call (or an offer of one) is in progress.
IN_CALL_STATES = frozenset(ordering.IN_CALL_STATES)


@attrs.define
class CurrentCall:
    call_id: UUID
    number_index: int
    dialled_at: datetime
    agent_id: str | None
    answered_at: datetime | None = None
    answered_by: CallOutcome | None = None
    connected_at: datetime | None = None
    connected_agent: str | None = None
    network_call_id: str = ""


@attrs.define
class ContactAttempt(WrapUp, Aggregate):
    campaign_id: UUID | None = None
    key: str = ""
    numbers: tuple[PhoneNumber, ...] = ()
    #: attempts per number in the current round, indexed like ``numbers``
    number_attempts: list[int] = attrs.field(factory=list)
    last_attempt_at: list[datetime | None] = attrs.field(factory=list)
    data: ContactData = attrs.field(factory=ContactData)
    priority: int = 5
    assigned_agent: str | None = None
    state: ContactState = ContactState.NEW
    state_before_queue: ContactState = ContactState.NEW
    created_at: datetime | None = None
    attempts: int = 0  # counted attempts in the current round (R14)
    total_dials: int = 0
    round: int = 1  # a scheduled callback starts a new round of attempts
    next_dial_at: datetime | None = None
    callback_at: datetime | None = None
    callback_agent: str | None = None
    current_call: CurrentCall | None = None
    last_call_id: UUID | None = None
    last_number: str | None = None  # the number the last call dialled
    last_call_connected: bool = False
    offer_id: UUID | None = None
    offer_agent: str | None = None
    disposition: str | None = None
    outcomes: list[tuple[UUID, CallOutcome]] = attrs.field(factory=list)
    round_outcomes: list[tuple[str, CallOutcome]] = attrs.field(factory=list)  # (number, outcome) of this round's calls
    dial_times: list[datetime] = attrs.field(factory=list)  # every dial, callbacks and rounds included (30-day limits)
    abandoned_at: datetime | None = None  # the last call abandoned (no agent for a person who answered)

    @classmethod
    def _blank(cls, aggregate_id: UUID) -> Self:
        return cls(id=aggregate_id)

    # ------------------------------------------------------------------ commands

    @staticmethod
    def imported(
        contact_id: UUID,
        *,
        campaign_id: UUID,
        key: str,
        numbers: tuple[PhoneNumber, ...],
        data: ContactData,
        priority: int = 5,
        assigned_agent: str | None = None,
        source: str = "api",
        at: datetime,
    ) -> ContactImported:
        """A new contact's event, its rules checked: what ``import_`` records (a list import's
        workers make it alone, with no contact to fold it into)."""
        check_contact(key, numbers, data, priority)
        if assigned_agent is not None:
            check_agent_id(assigned_agent)
        return ContactImported(originator_id=contact_id, originator_version=1, timestamp=at, campaign_id=campaign_id, key=key, numbers=numbers,
                               data=data, priority=priority, assigned_agent=assigned_agent, source=source)  # fmt: skip

    @classmethod
    def import_(
        cls, contact_id: UUID, *, campaign_id: UUID, key: str, numbers: tuple[PhoneNumber, ...], data: ContactData, priority: int = 5,
        assigned_agent: str | None = None, source: str = "api", at: datetime,
    ) -> ContactAttempt:  # fmt: skip
        """A new contact: ``imported``'s event recorded."""
        contact = cls(id=contact_id)
        event = cls.imported(
            contact_id, campaign_id=campaign_id, key=key, numbers=numbers, data=data, priority=priority, assigned_agent=assigned_agent,
            source=source, at=at,
        )  # fmt: skip
        contact._adopt(event)
        return contact

    def update(self, *, numbers: tuple[PhoneNumber, ...], data: ContactData, priority: int, source: str, at: datetime) -> None:
        self._require_not(ContactState.WITHDRAWN, "update")
        check_contact(self.key, numbers, data, priority)
        if self.state in IN_CALL_STATES and numbers != self.numbers:
            raise NotAllowed(f"contact {self.key!r} is in a call; its numbers cannot change now")
        if (numbers, data, priority) != (self.numbers, self.data, self.priority):
            self._record(ContactUpdated, at, numbers=numbers, data=data, priority=priority, source=source)

    def reinstate(self, *, numbers: tuple[PhoneNumber, ...], data: ContactData, priority: int, source: str, at: datetime) -> None:
        """A withdrawn contact comes back into the list with a fresh round of attempts."""
        if self.state is not ContactState.WITHDRAWN:
            raise NotAllowed(f"contact {self.key!r} is {self.state.value}, not withdrawn")
        check_contact(self.key, numbers, data, priority)
        self._record(ContactReinstated, at, numbers=numbers, data=data, priority=priority, source=source)

    def assign(self, agent_id: str | None, *, by: str, at: datetime) -> None:
        self._require_not(ContactState.WITHDRAWN, "assign")
        if agent_id is not None:
            check_agent_id(agent_id)
        if agent_id != self.assigned_agent:
            self._record(ContactAssigned, at, agent_id=agent_id, assigned_by=by)

    def due_at(self) -> datetime | None:
        """When the contact may next be queued; None when it is not in the list."""
        return list_due_at(self.state, next_dial_at=self.next_dial_at, created_at=self.created_at, callback_at=self.callback_at)

    def queue(self, at: datetime) -> None:
        if self.state not in LIST_STATES:
            raise NotAllowed(f"contact {self.key!r} is {self.state.value}; only new, pending or callback contacts are queued")
        due = self.due_at()
        if due is not None and due > at:
            raise NotAllowed(f"contact {self.key!r} is not due until {due.isoformat()}")
        if self.dialable_number(at) is None:
            raise NotAllowed(f"contact {self.key!r} has no number it may dial now")
        assert self.campaign_id is not None
        self._record(ContactQueued, at, campaign_id=self.campaign_id)

    def return_to_list(self, reason: str, at: datetime, not_before: datetime | None = None) -> None:
        """Back to the list; with ``not_before``, not queued again before then."""
        if self.state is not ContactState.QUEUED:
            raise NotAllowed(f"contact {self.key!r} is {self.state.value}, not queued")
        self._record(ContactReturnedToList, at, reason=reason, not_before=not_before)

    def withdraw(self, reason: str, at: datetime) -> None:
        if self.state in IN_CALL_STATES:
            raise NotAllowed(f"contact {self.key!r} is in a call; it is left alone until the call ends")
        self._require_not(ContactState.WITHDRAWN, "withdraw")
        self._record(ContactWithdrawn, at, reason=reason)

    def offer(self, agent_id: str, offer_id: UUID, at: datetime) -> None:
        if self.state is not ContactState.QUEUED:
            raise NotAllowed(f"contact {self.key!r} is {self.state.value}; only a queued contact can be offered")
        self._record(ContactOffered, at, agent_id=agent_id, offer_id=offer_id)

    def release_offer(self, offer_id: UUID, reason: str, at: datetime) -> None:
        if self.state is not ContactState.OFFERED or self.offer_id != offer_id:
            raise NotAllowed(f"contact {self.key!r} holds no offer {offer_id}")
        self._record(ContactOfferReleased, at, offer_id=offer_id, reason=reason)

    def dialable_number(self, at: datetime, settings: CampaignSettings | None = None) -> int | None:
        """The number to dial next (R8; ``rules.contacts.next_number``)."""
        return next_number(self.number_attempts, self.last_attempt_at, at, settings)

    def dial(
        self,
        *,
        call_id: UUID,
        settings: CampaignSettings,
        dial_mode: DialMode,
        agent_id: str | None,
        decision_id: UUID | None,
        checks: tuple[str, ...],
        at: datetime,
        callee: CalleeTime | None = None,
        dnc_checked: tuple[str, ...] = (),
        placed_for: str | None = None,
    ) -> DialAttempted:
        if self.state not in (ContactState.QUEUED, ContactState.OFFERED):
            raise NotAllowed(f"contact {self.key!r} is {self.state.value}; only a queued or offered contact is dialled")
        if self.attempts >= settings.max_attempts_per_contact:
            raise NotAllowed(f"contact {self.key!r} has no attempts left ({self.attempts} of {settings.max_attempts_per_contact})")
        index = self.dialable_number(at, settings)
        if index is None:
            raise NotAllowed(f"contact {self.key!r} has no number with attempts left outside its redial delay")
        assert self.campaign_id is not None
        return self._record(
            DialAttempted,
            at,
            campaign_id=self.campaign_id,
            call_id=call_id,
            number=self.numbers[index].e164,
            number_index=index,
            attempt_no=self.attempts + 1,
            dial_mode=dial_mode,
            agent_id=agent_id,
            decision_id=decision_id,
            checks=checks,
            caller_id_number=settings.caller_id_number,
            caller_id_name=settings.caller_id_name,
            max_ring_seconds=settings.max_ring_seconds,
            **(callee.evidence(settings.calling_policy) if callee is not None else {}),
            dnc_checked=dnc_checked,
            callback=self.state_before_queue is ContactState.CALLBACK_SCHEDULED,
            placed_for=placed_for,
        )

    def skip_number(self, index: int, reason: str, settings: CampaignSettings, at: datetime) -> None:
        """Not to dial number ``index`` again this round; with no number left, the contact is done (R14)."""
        self._record(NumberSkipped, at, number_index=index, number=self.numbers[index].e164, reason=reason)
        if all(n >= settings.attempts_per_number for n in self.number_attempts):
            self._record(AttemptsExhausted, at, reason=f"no number left to dial: {reason}")

    def give_up(self, reason: str, at: datetime) -> None:  # a limit of every dial it may be given is reached
        self._record(AttemptsExhausted, at, reason=reason)

    def placed(self, call_id: UUID, network_call_id: str, at: datetime) -> None:
        """The network's name for the call in progress (once; a repeat or an empty name changes nothing)."""
        call = self._require_call(call_id)
        if network_call_id and not call.network_call_id:
            self._record(CallPlaced, at, call_id=call_id, network_call_id=network_call_id)

    def progress(self, call_id: UUID, progress: CallOutcome, at: datetime, reported_at: datetime | None = None) -> None:
        call = self._require_call(call_id)
        if progress is CallOutcome.RINGING:
            if call.answered_at is not None:
                return
        elif progress.is_answer:
            if call.answered_at is not None:
                raise NotAllowed(f"call {call_id} was already answered")
        else:
            raise InvalidValue(f"{progress.value} ends a call; use end_call")
        self._record(CallProgressed, at, call_id=call_id, progress=progress, reported_at=reported_at)

    def connect(self, call_id: UUID, agent_id: str, at: datetime) -> None:
        call = self._require_call(call_id)
        if call.answered_by is not CallOutcome.ANSWERED_HUMAN:
            raise NotAllowed(f"call {call_id} has no human answer to connect")
        if call.connected_at is not None:
            raise NotAllowed(f"call {call_id} is already connected to {call.connected_agent}")
        assert call.answered_at is not None
        wait = (at - call.answered_at).total_seconds()
        self._record(CallConnected, at, call_id=call_id, agent_id=agent_id, wait_seconds=wait)

    def abandon(self, call_id: UUID, reason: str, at: datetime) -> None:
        call = self._require_call(call_id)
        if call.answered_by is not CallOutcome.ANSWERED_HUMAN or call.connected_at is not None:
            raise NotAllowed(f"call {call_id} is not a human answer waiting for an agent")
        assert call.answered_at is not None
        self._record(CallAbandoned, at, call_id=call_id, wait_seconds=(at - call.answered_at).total_seconds(), reason=reason)

    def end_call(self, call_id: UUID, outcome: CallOutcome, reason: str, settings: CampaignSettings, at: datetime) -> CallEnded:
        call = self._require_call(call_id)
        if call.connected_at is not None:
            outcome = CallOutcome.COMPLETED
        elif outcome is CallOutcome.ANSWERED_HUMAN or outcome is CallOutcome.COMPLETED:
            # A human answered but never reached an agent: the abandon must be recorded first.
            if self.outcomes and self.outcomes[-1] == (call_id, CallOutcome.ABANDONED):
                outcome = CallOutcome.ABANDONED
            else:
                raise NotAllowed(f"call {call_id} was answered but neither connected nor abandoned")
        elif outcome in (CallOutcome.RINGING,):
            raise InvalidValue("ringing does not end a call")
        talk = (at - call.connected_at).total_seconds() if call.connected_at else 0.0
        counts = outcome is not CallOutcome.CANCELLED
        number = self.numbers[call.number_index].e164
        spent = outcome_limit(outcome, sum(1 for n, o in self.round_outcomes if (n, o) == (number, outcome)) + 1, settings)
        next_dial_at: datetime | None = None
        if outcome is not CallOutcome.COMPLETED:
            dead = outcome is CallOutcome.INVALID_NUMBER or spent is not None
            next_dial_at = self._next_dial_after(call.number_index, counts, settings, at, dead=dead)
        ended = self._record(
            CallEnded,
            at,
            call_id=call_id,
            outcome=outcome,
            reason=reason,
            counts_as_attempt=counts,
            talk_seconds=talk,
            next_dial_at=next_dial_at,
        )
        if spent is not None:  # the campaign's attempts for this outcome on this number are used (R5)
            self._record(NumberSkipped, at, number_index=call.number_index, number=number, reason=spent)
        if outcome is not CallOutcome.COMPLETED and counts and next_dial_at is None:
            self._record(AttemptsExhausted, at, reason=exhaustion_reason(self.attempts, settings))
        return ended

    # ------------------------------------------------------------------ helpers

    def _reopen(self, reason: str, settings: CampaignSettings, at: datetime) -> None:
        """Back to the list for the next attempt after a call that reached an agent, or exhausted."""
        assert self.last_call_id is not None
        index = next((i for i, n in enumerate(self.numbers) if n.e164 == self.last_number), 0)
        next_dial_at = self._next_dial_after(index, False, settings, at)
        if next_dial_at is None:
            self._record(AttemptsExhausted, at, reason=exhaustion_reason(self.attempts, settings))
        else:
            self._record(ContactReopened, at, reason=reason, next_dial_at=next_dial_at)

    def _require_not(self, state: ContactState, what: str) -> None:
        if self.state is state:
            raise NotAllowed(f"contact {self.key!r} is {state.value}; cannot {what}")

    def _require_call(self, call_id: UUID) -> CurrentCall:
        if self.current_call is None or self.current_call.call_id != call_id:
            raise NotAllowed(f"call {call_id} is not the call in progress for contact {self.key!r}")
        return self.current_call

    def _next_dial_after(self, index: int, counts: bool, settings: CampaignSettings, at: datetime, *, dead: bool = False) -> datetime | None:
        tried = NumbersTried(self.attempts, self.number_attempts, self.last_attempt_at)
        return next_dial_after(tried, index, counts, settings, at, dead=dead)

    # ------------------------------------------------------------------ fold

    def apply(self, event: DomainEvent) -> None:
        """The queue's facts through the one fold (``rules.ordering.fold_queue``), then the rest."""
        fold_queue(self, event)
        match event:
            case ContactImported():
                self.campaign_id = event.campaign_id
                self.key = event.key
                self.numbers = event.numbers
                self.number_attempts = [0] * len(event.numbers)
                self.last_attempt_at = [None] * len(event.numbers)
                self.data = event.data
                self.priority = event.priority
                self.assigned_agent = event.assigned_agent
                self.created_at = event.timestamp
                self.state = ContactState.NEW
            case ContactUpdated():
                old = {n.e164: i for i, n in enumerate(self.numbers)}
                self.number_attempts = [self.number_attempts[old[n.e164]] if n.e164 in old else 0 for n in event.numbers]
                self.last_attempt_at = [self.last_attempt_at[old[n.e164]] if n.e164 in old else None for n in event.numbers]
                self.numbers = event.numbers
                self.data = event.data
            case ContactReinstated():
                self.numbers = event.numbers
                self.data = event.data
                self.number_attempts = [0] * len(event.numbers)
                self.last_attempt_at = [None] * len(event.numbers)
                self.round_outcomes = []
                self.round += 1
            case ContactOffered():
                self.offer_id = event.offer_id
                self.offer_agent = event.agent_id
            case ContactOfferReleased():
                self.offer_id = None
                self.offer_agent = None
            case DialAttempted():
                self.current_call = CurrentCall(event.call_id, event.number_index, event.timestamp, event.agent_id)
                self.last_call_id = event.call_id
                self.last_number = event.number
                self.last_call_connected = False
                self.total_dials += 1
                self.dial_times.append(event.timestamp)
                self.offer_id = None
                self.offer_agent = None
                self.disposition = None
            case CallPlaced():
                assert self.current_call is not None
                self.current_call.network_call_id = event.network_call_id
            case CallProgressed():
                assert self.current_call is not None
                if event.progress.is_answer:
                    self.current_call.answered_at = event.timestamp
                    self.current_call.answered_by = event.progress
            case CallConnected():
                assert self.current_call is not None
                self.current_call.connected_at = event.timestamp
                self.current_call.connected_agent = event.agent_id
                self.last_call_connected = True
                self.state = ContactState.CONNECTED
            case CallAbandoned():
                self.outcomes.append((event.call_id, CallOutcome.ABANDONED))
                self.abandoned_at = event.timestamp
            case CallEnded():
                assert self.current_call is not None
                if event.counts_as_attempt:
                    index = self.current_call.number_index
                    self.number_attempts[index] += 1
                    self.last_attempt_at[index] = event.timestamp
                if event.outcome is CallOutcome.INVALID_NUMBER:
                    self.number_attempts[self.current_call.number_index] = DEAD_NUMBER
                if not (self.outcomes and self.outcomes[-1] == (event.call_id, event.outcome)):
                    self.outcomes.append((event.call_id, event.outcome))
                self.round_outcomes.append((self.numbers[self.current_call.number_index].e164, event.outcome))
                self.current_call = None
                self.callback_agent = None
            case DispositionRecorded():
                self.disposition = event.code
            case NumberSkipped():
                self.number_attempts[event.number_index] = DEAD_NUMBER
            case CallbackMoved():
                self.callback_agent = event.agent_id
            case CallbackScheduled():
                self.callback_agent = event.agent_id
                self.round += 1
                self.number_attempts = [0] * len(self.numbers)
                self.last_attempt_at = [None] * len(self.numbers)
                self.round_outcomes = []
            case CallbackCancelled():
                self.callback_agent = None
            case ContactAssigned() | ContactQueued() | ContactReturnedToList() | ContactWithdrawn():
                pass  # the queue's facts only
            case AttemptsExhausted() | ContactClosed() | ContactReopened():
                pass  # the queue's facts only
            case _:
                raise TypeError(f"ContactAttempt cannot apply {event.NAME}")
