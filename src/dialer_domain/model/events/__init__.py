"""Domain events: small, immutable records of what happened, named in the past tense.

Every event class carries a stable ``NAME`` (never a module path) and a ``VERSION`` (its schema
version). The storage adapter keys its registry on ``NAME`` and upcasts older stored versions to
``VERSION`` before building the object, so a stored event never changes meaning.
"""


from __future__ import annotations

from dialer_domain.model.events.agent import (
    AgentConnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentPhoneRegistered,
    AgentReady,
    CallHeld,
    CallOffered,
    CallResumed,
    OfferAccepted,
    OfferDeclined,
    WrapUpExtended,
    WrapUpStarted,
)
from dialer_domain.model.events.base import DomainEvent
from dialer_domain.model.events.campaign import (
    CampaignCallGuideSet,
    CampaignCreated,
    CampaignDescribed,
    CampaignDialModeChanged,
    CampaignHoursChanged,
    CampaignListMappingSet,
    CampaignNameClaimed,
    CampaignPriorityChanged,
    CampaignRenamed,
    CampaignSelectionChanged,
    CampaignSettingsChanged,
    CampaignStatusChanged,
    ListImported,
    ListImportRefused,
    PacingDecided,
)
from dialer_domain.model.events.contact import (
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
    NumberSkipped,
)
from dialer_domain.model.values import AgentState

CAMPAIGN_EVENTS: tuple[type[DomainEvent], ...] = (
    CampaignCreated, CampaignDescribed, CampaignSettingsChanged, CampaignDialModeChanged, CampaignPriorityChanged, CampaignHoursChanged,
    CampaignStatusChanged, CampaignListMappingSet, CampaignCallGuideSet, ListImported, ListImportRefused, CampaignSelectionChanged,
    CampaignRenamed,
)
CONTACT_EVENTS: tuple[type[DomainEvent], ...] = (
    ContactImported, ContactUpdated, ContactReinstated, ContactAssigned, ContactQueued, ContactReturnedToList, ContactWithdrawn, ContactOffered,
    ContactOfferReleased, DialAttempted, CallPlaced, CallProgressed, CallConnected, CallAbandoned, CallEnded, DispositionRecorded,
    CallbackScheduled, NumberSkipped, AttemptsExhausted, ContactClosed, CallbackMoved, CallbackCancelled,
    ContactReopened,
)
AGENT_EVENTS: tuple[type[DomainEvent], ...] = (
    AgentLoggedIn, AgentPhoneRegistered, AgentReady, CallOffered, OfferAccepted, OfferDeclined, AgentConnected, WrapUpStarted, WrapUpExtended,
    AgentPaused, AgentLoggedOut, CallHeld, CallResumed,
)
ALL_EVENTS: tuple[type[DomainEvent], ...] = (*CAMPAIGN_EVENTS, CampaignNameClaimed, PacingDecided, *CONTACT_EVENTS, *AGENT_EVENTS)

__all__ = [
    "CampaignNameClaimed",
    "CampaignRenamed",
    "CampaignSelectionChanged",
    "ContactReopened",
    "CallResumed",
    "CallHeld",
    "CallbackCancelled",
    "CallbackMoved",
    "ContactClosed",
    "AGENT_EVENTS",
    "ALL_EVENTS",
    "AgentConnected",
    "AgentLoggedIn",
    "AgentLoggedOut",
    "AgentPaused",
    "AgentPhoneRegistered",
    "AgentReady",
    "AgentState",
    "AttemptsExhausted",
    "CAMPAIGN_EVENTS",
    "CONTACT_EVENTS",
    "CallAbandoned",
    "CallConnected",
    "CallEnded",
    "CallOffered",
    "CallPlaced",
    "CallProgressed",
    "CallbackScheduled",
    "CampaignCallGuideSet",
    "CampaignCreated",
    "CampaignDescribed",
    "CampaignDialModeChanged",
    "CampaignHoursChanged",
    "CampaignListMappingSet",
    "CampaignPriorityChanged",
    "CampaignSettingsChanged",
    "CampaignStatusChanged",
    "ContactAssigned",
    "ContactImported",
    "ContactOfferReleased",
    "ContactOffered",
    "ContactQueued",
    "ContactReinstated",
    "ContactReturnedToList",
    "ContactUpdated",
    "ContactWithdrawn",
    "DomainEvent",
    "DialAttempted",
    "DispositionRecorded",
    "ListImportRefused",
    "ListImported",
    "NumberSkipped",
    "OfferAccepted",
    "OfferDeclined",
    "PacingDecided",
    "WrapUpExtended",
    "WrapUpStarted",
]
