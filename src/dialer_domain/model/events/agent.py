"""Events of an agent session's stream."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import attrs

from dialer_domain.model.events.base import DomainEvent


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


@attrs.frozen(kw_only=True)
class CallHeld(DomainEvent):
    """The agent put the person on hold (R18); the call cannot be ended until it is resumed."""

    NAME: ClassVar[str] = "CallHeld"
    call_id: UUID


@attrs.frozen(kw_only=True)
class CallResumed(DomainEvent):
    """The agent took the person off hold."""

    NAME: ClassVar[str] = "CallResumed"
    call_id: UUID
    held_seconds: float
