"""Domain events: small, immutable records of what happened, named in the past tense.

Every event class carries a stable ``NAME`` (never a module path) and a ``VERSION`` (its schema
version). The storage adapter keys its registry on ``NAME`` and upcasts older stored versions to
``VERSION`` before building the object, so a stored event never changes meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import attrs

from dialer_domain.model.values import (
    AgentState,
    CallOutcome,
    CampaignSettings,
    CampaignStatus,
    ContactData,
    DialMode,
    FrozenMap,
    GuideQuestion,
    ImportMode,
    ListMapping,
    OpeningHours,
    PhoneNumber,
    number_map,
)


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Base of every event: which stream, which position in it, and when."""

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime


# ---------------------------------------------------------------- Campaign


@attrs.frozen(kw_only=True)
class CampaignCreated(DomainEvent):
    NAME: ClassVar[str] = "CampaignCreated"
    name: str
    description: str
    manager: str
    priority: int
    dial_mode: DialMode
    settings: CampaignSettings
    hours: OpeningHours | None


@attrs.frozen(kw_only=True)
class CampaignSettingsChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignSettingsChanged"
    settings: CampaignSettings


@attrs.frozen(kw_only=True)
class CampaignDialModeChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignDialModeChanged"
    dial_mode: DialMode


@attrs.frozen(kw_only=True)
class CampaignPriorityChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignPriorityChanged"
    priority: int


@attrs.frozen(kw_only=True)
class CampaignHoursChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignHoursChanged"
    hours: OpeningHours | None


@attrs.frozen(kw_only=True)
class CampaignStatusChanged(DomainEvent):
    NAME: ClassVar[str] = "CampaignStatusChanged"
    status: CampaignStatus
    changed_by: str


@attrs.frozen(kw_only=True)
class CampaignListMappingSet(DomainEvent):
    NAME: ClassVar[str] = "CampaignListMappingSet"
    mapping: ListMapping


@attrs.frozen(kw_only=True)
class CampaignCallGuideSet(DomainEvent):
    """R18: the campaign's call guide, whole (empty: none)."""

    NAME: ClassVar[str] = "CampaignCallGuideSet"
    questions: tuple[GuideQuestion, ...]


@attrs.frozen(kw_only=True)
class ListImported(DomainEvent):
    """One import of a list file into the campaign (R7's import history)."""

    NAME: ClassVar[str] = "ListImported"
    import_id: UUID
    file_name: str
    sha256: str
    mode: ImportMode
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    added: int
    updated: int
    reinstated: int
    withdrawn: int
    left_in_call: int
    started_at: datetime


@attrs.frozen(kw_only=True)
class ListImportRefused(DomainEvent):
    """A list file refused whole, nothing applied (R7); ``reason_code``: rejected_rows, would_withdraw_too_much, unreadable_file or conflict."""
    NAME: ClassVar[str] = "ListImportRefused"
    file_name: str
    sha256: str
    mode: ImportMode
    rows: int
    rejected: int
    duplicates: int
    reason_code: str
    reason: str


@attrs.frozen(kw_only=True)
class PacingDecided(DomainEvent):
    """Why the dialler placed calls: the inputs of one pacing decision and its result.

    Recorded on the campaign's pacing-log stream (one per campaign and day) whenever a decision
    places at least one call; every DialAttempted names the decision that caused it.
    """

    NAME: ClassVar[str] = "PacingDecided"
    campaign_id: UUID
    decision_id: UUID
    dial_mode: DialMode
    ready_agents: int
    agents_in_wrapup: int
    agents_talking: int
    calls_in_flight: int
    answered_waiting: int
    estimates: FrozenMap[str, float] = attrs.field(converter=number_map)
    target_abandon_rate: float
    calls_to_place: int
    reason: str


# ---------------------------------------------------------------- ContactAttempt


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
    VERSION: ClassVar[int] = 2
    reason: str
    not_before: datetime | None = None


@attrs.frozen(kw_only=True)
class ContactWithdrawn(DomainEvent):
    """Removed from the list (REPLACE import, API delete). History is kept; never dialled again."""

    NAME: ClassVar[str] = "ContactWithdrawn"
    reason: str


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
    VERSION: ClassVar[int] = 2
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
    call_id: UUID
    wait_seconds: float
    reason: str


@attrs.frozen(kw_only=True)
class CallEnded(DomainEvent):
    NAME: ClassVar[str] = "CallEnded"
    call_id: UUID
    outcome: CallOutcome
    reason: str
    counts_as_attempt: bool
    talk_seconds: float
    next_dial_at: datetime | None


@attrs.frozen(kw_only=True)
class DispositionRecorded(DomainEvent):
    NAME: ClassVar[str] = "DispositionRecorded"
    call_id: UUID | None
    code: str
    agent_id: str | None
    note: str


@attrs.frozen(kw_only=True)
class CallbackScheduled(DomainEvent):
    NAME: ClassVar[str] = "CallbackScheduled"
    callback_at: datetime
    agent_id: str | None
    scheduled_by: str


@attrs.frozen(kw_only=True)
class NumberSkipped(DomainEvent):
    """One of the contact's numbers is not dialled again this round (it is on a do-not-call list)."""
    NAME: ClassVar[str] = "NumberSkipped"
    number_index: int
    number: str
    reason: str


@attrs.frozen(kw_only=True)
class AttemptsExhausted(DomainEvent):
    NAME: ClassVar[str] = "AttemptsExhausted"
    reason: str


# ---------------------------------------------------------------- AgentSession


@attrs.frozen(kw_only=True)
class AgentLoggedIn(DomainEvent):
    NAME: ClassVar[str] = "AgentLoggedIn"
    agent_id: str
    name: str
    skills: tuple[str, ...]


@attrs.frozen(kw_only=True)
class AgentPhoneRegistered(DomainEvent):
    """The phone (a number or SIP address) the agent's leg is held on for the session: a restart
    calls it again, as the new process holds no leg."""

    NAME: ClassVar[str] = "AgentPhoneRegistered"
    phone: str


@attrs.frozen(kw_only=True)
class AgentReady(DomainEvent):
    NAME: ClassVar[str] = "AgentReady"
    by: str


@attrs.frozen(kw_only=True)
class CallOffered(DomainEvent):
    NAME: ClassVar[str] = "CallOffered"
    offer_id: UUID
    campaign_id: UUID
    contact_id: UUID
    expires_at: datetime


@attrs.frozen(kw_only=True)
class OfferAccepted(DomainEvent):
    NAME: ClassVar[str] = "OfferAccepted"
    offer_id: UUID


@attrs.frozen(kw_only=True)
class OfferDeclined(DomainEvent):
    NAME: ClassVar[str] = "OfferDeclined"
    offer_id: UUID
    reason: str


@attrs.frozen(kw_only=True)
class AgentConnected(DomainEvent):
    NAME: ClassVar[str] = "AgentConnected"
    call_id: UUID
    campaign_id: UUID
    contact_id: UUID


@attrs.frozen(kw_only=True)
class WrapUpStarted(DomainEvent):
    NAME: ClassVar[str] = "WrapUpStarted"
    call_id: UUID
    until: datetime


@attrs.frozen(kw_only=True)
class WrapUpExtended(DomainEvent):
    NAME: ClassVar[str] = "WrapUpExtended"
    until: datetime


@attrs.frozen(kw_only=True)
class AgentPaused(DomainEvent):
    """Schema v2: ``reason_code`` plus a free ``note`` (v1 had a single free-text ``reason``)."""

    NAME: ClassVar[str] = "AgentPaused"
    VERSION: ClassVar[int] = 2
    reason_code: str
    note: str


@attrs.frozen(kw_only=True)
class AgentLoggedOut(DomainEvent):
    NAME: ClassVar[str] = "AgentLoggedOut"
    by: str


CAMPAIGN_EVENTS: tuple[type[DomainEvent], ...] = (
    CampaignCreated, CampaignSettingsChanged, CampaignDialModeChanged, CampaignPriorityChanged, CampaignHoursChanged, CampaignStatusChanged,
    CampaignListMappingSet, CampaignCallGuideSet, ListImported, ListImportRefused,
)
CONTACT_EVENTS: tuple[type[DomainEvent], ...] = (
    ContactImported, ContactUpdated, ContactReinstated, ContactAssigned, ContactQueued, ContactReturnedToList, ContactWithdrawn, ContactOffered,
    ContactOfferReleased, DialAttempted, CallPlaced, CallProgressed, CallConnected, CallAbandoned, CallEnded, DispositionRecorded,
    CallbackScheduled, NumberSkipped, AttemptsExhausted,
)
AGENT_EVENTS: tuple[type[DomainEvent], ...] = (
    AgentLoggedIn, AgentPhoneRegistered, AgentReady, CallOffered, OfferAccepted, OfferDeclined, AgentConnected, WrapUpStarted, WrapUpExtended,
    AgentPaused, AgentLoggedOut,
)
ALL_EVENTS: tuple[type[DomainEvent], ...] = (*CAMPAIGN_EVENTS, PacingDecided, *CONTACT_EVENTS, *AGENT_EVENTS)

__all__ = ["AGENT_EVENTS", "ALL_EVENTS", "CAMPAIGN_EVENTS", "CONTACT_EVENTS", "AgentState", "DomainEvent"] + [e.__name__ for e in ALL_EVENTS]
