"""Events of a contact's stream: its life in the list, its dials and their calls."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import attrs

from dialer_domain.model.causes import coded
from dialer_domain.model.events.base import DomainEvent
from dialer_domain.model.values import (
    CallOutcome,
    ContactData,
    ContactState,
    DialMode,
    FrozenMap,
    PhoneNumber,
    text_map,
)


@attrs.frozen(kw_only=True)
class ContactImported(DomainEvent):
    NAME: ClassVar[str] = "ContactImported"
    campaign_id: UUID
    key: str
    numbers: tuple[PhoneNumber, ...]
    data: ContactData
    priority: int
    assigned_agent: str | None
    source: str


@attrs.frozen(kw_only=True)
class ContactUpdated(DomainEvent):
    NAME: ClassVar[str] = "ContactUpdated"
    numbers: tuple[PhoneNumber, ...]
    data: ContactData
    priority: int
    source: str


@attrs.frozen(kw_only=True)
class ContactReinstated(DomainEvent):
    """A withdrawn contact back in the list (it came again in an import or through the API)."""

    NAME: ClassVar[str] = "ContactReinstated"
    numbers: tuple[PhoneNumber, ...]
    data: ContactData
    priority: int
    source: str


@attrs.frozen(kw_only=True)
class ContactAssigned(DomainEvent):
    NAME: ClassVar[str] = "ContactAssigned"
    agent_id: str | None
    assigned_by: str


@attrs.frozen(kw_only=True)
class ContactQueued(DomainEvent):
    NAME: ClassVar[str] = "ContactQueued"
    campaign_id: UUID


@attrs.frozen(kw_only=True)
class ContactReturnedToList(DomainEvent):
    """Taken back out of the campaign queue (campaign disabled or outside its hours, or a dial not
    allowed now). v2: ``not_before``, when it may be queued again (the callee's hours open)."""

    NAME: ClassVar[str] = "ContactReturnedToList"
    VERSION: ClassVar[int] = 3
    reason: str
    reason_code: str = coded("ContactReturnedToList")  # v3: the stable code of the reason (model.causes)
    not_before: datetime | None = None


@attrs.frozen(kw_only=True)
class ContactWithdrawn(DomainEvent):
    """Removed from the list (REPLACE import, API delete). History is kept; never dialled again."""

    NAME: ClassVar[str] = "ContactWithdrawn"
    VERSION: ClassVar[int] = 2
    reason: str
    reason_code: str = coded("ContactWithdrawn")  # v2: the stable code of the reason (model.causes)


@attrs.frozen(kw_only=True)
class ContactOffered(DomainEvent):
    """Agent-first modes: the contact is reserved for an agent who is being offered it."""

    NAME: ClassVar[str] = "ContactOffered"
    agent_id: str
    offer_id: UUID


@attrs.frozen(kw_only=True)
class ContactOfferReleased(DomainEvent):
    NAME: ClassVar[str] = "ContactOfferReleased"
    offer_id: UUID
    reason: str


@attrs.frozen(kw_only=True)
class DialAttempted(DomainEvent):
    NAME: ClassVar[str] = "DialAttempted"
    VERSION: ClassVar[int] = 3
    campaign_id: UUID
    call_id: UUID
    number: str
    number_index: int
    attempt_no: int
    dial_mode: DialMode
    agent_id: str | None
    decision_id: UUID | None
    checks: tuple[str, ...]
    caller_id_number: str
    caller_id_name: str
    max_ring_seconds: int
    calling_policy: str = ""  # v2: the evidence of the callee's hours (rules.calling_hours.CalleeTime), the lists checked
    callee_zones: tuple[str, ...] = ()
    callee_zone_source: str = ""
    callee_local_times: tuple[str, ...] = ()
    dnc_checked: tuple[str, ...] = ()  # the do-not-call lists looked at, "name@revision"
    callback: bool = False  # the dial keeps a callback appointment (R12)
    placed_for: str | None = None  # v3: the ready agent a contact-first call was placed for (None: one expected to free, or agent-first)


@attrs.frozen(kw_only=True)
class CallPlaced(DomainEvent):
    """The network took the call and named it (Twilio's CallSid): what a restart asks the network
    about (``Telephony.fate``), and what an auditor matches with the carrier's records."""

    NAME: ClassVar[str] = "CallPlaced"
    call_id: UUID
    network_call_id: str


@attrs.frozen(kw_only=True)
class CallProgressed(DomainEvent):
    NAME: ClassVar[str] = "CallProgressed"
    VERSION: ClassVar[int] = 2
    call_id: UUID
    progress: CallOutcome
    reported_at: datetime | None = None  # v2: when the network says it happened (a machine's pickup, before detection)


@attrs.frozen(kw_only=True)
class CallConnected(DomainEvent):
    NAME: ClassVar[str] = "CallConnected"
    call_id: UUID
    agent_id: str
    wait_seconds: float


@attrs.frozen(kw_only=True)
class CallAbandoned(DomainEvent):
    """A human answered and no agent was connected in time: a silent call (R17)."""

    NAME: ClassVar[str] = "CallAbandoned"
    VERSION: ClassVar[int] = 2
    call_id: UUID
    wait_seconds: float
    reason: str
    reason_code: str = coded("CallAbandoned")  # v2: the stable code of the reason (model.causes)


@attrs.frozen(kw_only=True)
class CallEnded(DomainEvent):
    NAME: ClassVar[str] = "CallEnded"
    VERSION: ClassVar[int] = 2
    call_id: UUID
    outcome: CallOutcome
    reason: str
    reason_code: str = coded("CallEnded")  # v2: the stable code of the reason (model.causes)
    counts_as_attempt: bool
    talk_seconds: float
    next_dial_at: datetime | None


@attrs.frozen(kw_only=True)
class DispositionRecorded(DomainEvent):
    """The agent's wrap-up code (R18), whether the campaign counted it a success then, and the
    call guide's answers (question: answer)."""

    NAME: ClassVar[str] = "DispositionRecorded"
    VERSION: ClassVar[int] = 2
    call_id: UUID | None
    code: str
    agent_id: str | None
    note: str
    success: bool  # v2; a v1 event is a success when its code is sale (the only default success)
    answers: FrozenMap[str, str] = attrs.field(factory=FrozenMap, converter=text_map)  # v2


@attrs.frozen(kw_only=True)
class ContactClosed(DomainEvent):
    """The contact is finished though attempts are left: a disposition that ends it (R18)."""

    NAME: ClassVar[str] = "ContactClosed"
    reason: str
    reason_code: str = coded("ContactClosed")
    closed_by: str


@attrs.frozen(kw_only=True)
class ContactReopened(DomainEvent):
    """A call that reached an agent, disposed with a code that does not end the contact (an
    answering machine the agent heard, say): the contact is back in the list for its next attempt."""

    NAME: ClassVar[str] = "ContactReopened"
    reason: str
    next_dial_at: datetime


@attrs.frozen(kw_only=True)
class CallbackScheduled(DomainEvent):
    NAME: ClassVar[str] = "CallbackScheduled"
    callback_at: datetime
    agent_id: str | None
    scheduled_by: str


@attrs.frozen(kw_only=True)
class CallbackMoved(DomainEvent):
    """A scheduled callback gets another time or agent (R12); its round of attempts stays."""

    NAME: ClassVar[str] = "CallbackMoved"
    callback_at: datetime
    agent_id: str | None
    moved_by: str
    note: str = ""  # e.g. why the time differs from the one asked for (outside the campaign's hours)


@attrs.frozen(kw_only=True)
class CallbackCancelled(DomainEvent):
    """A scheduled callback is called off (R12). ``then`` is the contact's state after: done when its
    last call reached an agent or the canceller closed it, else pending and due at once."""

    NAME: ClassVar[str] = "CallbackCancelled"
    cancelled_by: str
    reason: str
    then: ContactState


@attrs.frozen(kw_only=True)
class NumberSkipped(DomainEvent):
    """One of the contact's numbers is not dialled again this round (it is on a do-not-call list)."""
    NAME: ClassVar[str] = "NumberSkipped"
    VERSION: ClassVar[int] = 2
    number_index: int
    number: str
    reason: str
    reason_code: str = coded("NumberSkipped")  # v2: the stable code of the reason (model.causes)


@attrs.frozen(kw_only=True)
class AttemptsExhausted(DomainEvent):
    NAME: ClassVar[str] = "AttemptsExhausted"
    VERSION: ClassVar[int] = 2
    reason: str
    reason_code: str = coded("AttemptsExhausted")  # v2: the stable code of the reason (model.causes)
