"""The AgentSession aggregate (R15, R16): one agent's day, with the time spent in each state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self
from uuid import UUID

import attrs

from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.errors import InvalidValue, NotAllowed
from dialer_domain.model.events import (
    AgentConnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentPhoneRegistered,
    AgentReady,
    CallHeld,
    CallOffered,
    CallResumed,
    DomainEvent,
    OfferAccepted,
    OfferDeclined,
    WrapUpExtended,
    WrapUpStarted,
)
from dialer_domain.model.text import MAX_NAME, check_agent_id, check_text
from dialer_domain.model.values import PAUSE_REASONS, AgentState


@attrs.define
class AgentSession(Aggregate):
    agent_id: str = ""
    name: str = ""
    skills: tuple[str, ...] = ()
    phone: str = ""  # where the agent's leg is held for the session ("" without one)
    state: AgentState = AgentState.LOGGED_OUT
    state_since: datetime | None = None
    pause_reason: str | None = None
    offer_id: UUID | None = None
    offer_contact: UUID | None = None
    offer_campaign: UUID | None = None
    offer_expires_at: datetime | None = None
    call_id: UUID | None = None
    call_contact: UUID | None = None
    call_campaign: UUID | None = None
    wrapup_until: datetime | None = None
    held_since: datetime | None = None  # the person is on hold since then (R18)
    seconds_in: dict[str, float] = attrs.field(factory=dict)
    pause_seconds: dict[str, float] = attrs.field(factory=dict)

    @classmethod
    def _blank(cls, aggregate_id: UUID) -> Self:
        return cls(id=aggregate_id)

    def has_skill(self, skill: str) -> bool:
        return skill in self.skills

    @property
    def logged_in(self) -> bool:
        return self.state is not AgentState.LOGGED_OUT

    # ------------------------------------------------------------------ commands

    def log_in(self, agent_id: str, *, name: str, skills: tuple[str, ...], at: datetime) -> None:
        if self.logged_in:
            raise NotAllowed(f"agent {self.agent_id} is already logged in")
        if not agent_id.strip():
            raise InvalidValue("an agent needs an id")
        check_agent_id(agent_id)
        check_text(f"agent {agent_id!r} name", name, MAX_NAME)
        if not skills:
            raise InvalidValue(f"agent {agent_id} logs in with no skill; it could take no campaign's calls (R15)")
        self._record(AgentLoggedIn, at, agent_id=agent_id, name=name, skills=tuple(skills))

    def register_phone(self, phone: str, at: datetime) -> None:
        self._require_logged_in("register a phone")
        check_text(f"agent {self.agent_id!r} phone", phone, MAX_NAME)
        if not phone.strip():
            raise InvalidValue(f"agent {self.agent_id}: a phone is a number or a SIP address, not blank")
        self._record(AgentPhoneRegistered, at, phone=phone)

    def ready(self, at: datetime, by: str = "agent") -> None:
        if self.state in (AgentState.PAUSED, AgentState.WRAP_UP):
            self._record(AgentReady, at, by=by)
        elif self.state is not AgentState.READY:
            raise NotAllowed(f"agent {self.agent_id} is {self.state.value}; only a paused agent or one in wrap-up can become ready")

    def offer(self, *, offer_id: UUID, campaign_id: UUID, contact_id: UUID, expires_at: datetime, at: datetime) -> None:
        self._require(AgentState.READY, "be offered a call")
        self._record(CallOffered, at, offer_id=offer_id, campaign_id=campaign_id, contact_id=contact_id, expires_at=expires_at)

    def accept_offer(self, offer_id: UUID, at: datetime) -> None:
        self._require(AgentState.OFFERED, "accept an offer")
        if offer_id != self.offer_id:
            raise NotAllowed(f"offer {offer_id} is not the one agent {self.agent_id} holds")
        self._record(OfferAccepted, at, offer_id=offer_id)

    def decline_offer(self, offer_id: UUID, reason: str, at: datetime) -> None:
        """The offer (or the reserved call placed for this agent) goes away; back to Ready."""
        if self.state not in (AgentState.OFFERED, AgentState.RESERVED) or offer_id != self.offer_id:
            raise NotAllowed(f"agent {self.agent_id} holds no offer {offer_id}")
        self._record(OfferDeclined, at, offer_id=offer_id, reason=reason)

    def connect(self, *, call_id: UUID, campaign_id: UUID, contact_id: UUID, at: datetime) -> None:
        if self.state is AgentState.READY or (self.state is AgentState.RESERVED and self.offer_contact == contact_id):
            pass
        else:
            raise NotAllowed(f"agent {self.agent_id} is {self.state.value}; cannot take call {call_id}")
        self._record(AgentConnected, at, call_id=call_id, campaign_id=campaign_id, contact_id=contact_id)

    def hold(self, at: datetime) -> UUID:
        """Put the person on hold (the agent's action); the call cannot be ended until resumed."""
        self._require(AgentState.TALKING, "put a call on hold")
        assert self.call_id is not None
        if self.held_since is not None:
            raise NotAllowed(f"agent {self.agent_id}'s call is on hold already")
        self._record(CallHeld, at, call_id=self.call_id)
        return self.call_id

    def resume(self, at: datetime) -> UUID:
        """Take the person off hold."""
        self._require(AgentState.TALKING, "resume a call")
        assert self.call_id is not None
        if self.held_since is None:
            raise NotAllowed(f"agent {self.agent_id}'s call is not on hold")
        self._record(CallResumed, at, call_id=self.call_id, held_seconds=(at - self.held_since).total_seconds())
        return self.call_id

    def start_wrapup(self, call_id: UUID, wrapup_seconds: float, at: datetime) -> None:
        if self.state is not AgentState.TALKING or call_id != self.call_id:
            raise NotAllowed(f"agent {self.agent_id} is not talking on call {call_id}")
        self._record(WrapUpStarted, at, call_id=call_id, until=at + timedelta(seconds=wrapup_seconds))

    def extend_wrapup(self, seconds: float, at: datetime) -> None:
        self._require(AgentState.WRAP_UP, "extend wrap-up")
        if seconds <= 0:
            raise InvalidValue(f"a wrap-up extension must be positive, got {seconds}s")
        assert self.wrapup_until is not None
        self._record(WrapUpExtended, at, until=max(self.wrapup_until, at) + timedelta(seconds=seconds))

    def pause(self, reason_code: str, at: datetime, note: str = "") -> None:
        if reason_code not in PAUSE_REASONS:
            raise InvalidValue(f"pause reason {reason_code!r} is not one of {', '.join(PAUSE_REASONS)}")
        if self.state in (AgentState.LOGGED_OUT, AgentState.TALKING):
            raise NotAllowed(f"agent {self.agent_id} is {self.state.value}; cannot pause now")
        if self.state is AgentState.PAUSED and self.pause_reason == reason_code:
            return
        self._record(AgentPaused, at, reason_code=reason_code, note=note)

    def log_out(self, at: datetime, by: str = "agent") -> None:
        if self.state is AgentState.TALKING:
            raise NotAllowed(f"agent {self.agent_id} is talking; end the call before logging out")
        self._require_logged_in("log out")
        self._record(AgentLoggedOut, at, by=by)

    def _require(self, state: AgentState, what: str) -> None:
        if self.state is not state:
            raise NotAllowed(f"agent {self.agent_id} is {self.state.value}; must be {state.value} to {what}")

    def _require_logged_in(self, what: str) -> None:
        if not self.logged_in:
            raise NotAllowed(f"agent {self.agent_id} is logged out; cannot {what}")

    # ------------------------------------------------------------------ fold

    def _enter(self, state: AgentState, at: datetime) -> None:
        if self.state_since is not None and self.state is not AgentState.LOGGED_OUT:
            spent = (at - self.state_since).total_seconds()
            self.seconds_in[self.state.value] = self.seconds_in.get(self.state.value, 0.0) + spent
            if self.state is AgentState.PAUSED and self.pause_reason:
                self.pause_seconds[self.pause_reason] = self.pause_seconds.get(self.pause_reason, 0.0) + spent
        self.state = state
        self.state_since = at

    def _clear_offer(self) -> None:
        self.offer_id = self.offer_contact = self.offer_campaign = None
        self.offer_expires_at = None

    def apply(self, event: DomainEvent) -> None:
        at = event.timestamp
        match event:
            case AgentLoggedIn():
                self.agent_id = event.agent_id
                self.name = event.name
                self.skills = event.skills
                self.phone = ""
                self._enter(AgentState.PAUSED, at)
                self.pause_reason = "not_ready"
            case AgentReady():
                self._enter(AgentState.READY, at)
                self.pause_reason = None
                self.wrapup_until = None
            case CallOffered():
                self._enter(AgentState.OFFERED, at)
                self.offer_id = event.offer_id
                self.offer_contact = event.contact_id
                self.offer_campaign = event.campaign_id
                self.offer_expires_at = event.expires_at
            case OfferAccepted():
                self._enter(AgentState.RESERVED, at)
            case OfferDeclined():
                self._enter(AgentState.READY, at)
                self._clear_offer()
            case AgentConnected():
                self._enter(AgentState.TALKING, at)
                self._clear_offer()
                self.call_id = event.call_id
                self.call_contact = event.contact_id
                self.call_campaign = event.campaign_id
            case WrapUpStarted():
                self._enter(AgentState.WRAP_UP, at)
                self.wrapup_until = event.until
                self.held_since = None  # the person hung up on hold: the call is over
            case CallHeld():
                self.held_since = at
            case CallResumed():
                self.held_since = None
            case WrapUpExtended():
                self.wrapup_until = event.until
            case AgentPaused():
                self._enter(AgentState.PAUSED, at)
                self.pause_reason = event.reason_code
                self._clear_offer()
            case AgentPhoneRegistered():
                self.phone = event.phone
            case AgentLoggedOut():
                self.phone = ""
                self._enter(AgentState.LOGGED_OUT, at)
                self.pause_reason = None
                self._clear_offer()
                self.wrapup_until = None
            case _:
                raise TypeError(f"AgentSession cannot apply {event.NAME}")
