"""The agents' side: log in and out, ready, pause (R16), offers in agent-first modes (R2), the
agent leg hanging up (R6), dispositions and callbacks (R12, R18)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from uuid import UUID

from dialer_domain.model.agent import AgentSession
from dialer_domain.model.errors import NotAllowed
from dialer_domain.model.identities import agent_session_id_for
from dialer_domain.model.values import AgentState, CallOutcome, ContactState, DialMode
from dialer_domain.rules.callbacks import callback_time
from dialer_domain.rules.dialling import first_waiting_answer, progressive_excess
from dialer_domain.rules.do_not_call import INTERNAL
from dialer_domain.service_layer.call_progress import CallProgress
from dialer_domain.service_layer.dialler_core import _since


class AgentSteps(CallProgress):
    # ================================================================== agents (desktop -> engine)

    def log_in(self, agent_id: str, *, name: str = "", skills: Sequence[str], phone: str | None = None) -> AgentSession:
        """Log the agent in; with ``phone`` (a number or SIP address) telephony calls it once and
        holds the leg for the session, so that answers are bridged at once (R17)."""

        def step(now: datetime) -> AgentSession:
            current = self.agents.get(agent_id)
            if current is not None and current.logged_in:
                raise NotAllowed(f"agent {agent_id} is already logged in")
            sid = agent_session_id_for(agent_id, now.date().isoformat())
            s = self.sessions.get(sid) or AgentSession(id=sid)
            s.log_in(agent_id, name=name or agent_id, skills=tuple(skills), at=now)
            if phone:
                s.register_phone(phone, now)
            self._touch(s)
            if phone:
                self.uow.after_commit(partial(self._open_leg, agent_id, phone))
            return s

        self._in_step(step, run_timers=False)
        return self.agent(agent_id)

    def _open_leg(self, agent_id: str, address: str) -> None:
        self.legs[agent_id] = address
        self.report_gate.leg_opened(agent_id)
        self.telephony.open_agent_leg(agent_id, address)

    def _close_leg(self, agent_id: str) -> None:
        if self.legs.pop(agent_id, None) is not None:
            self.telephony.close_agent_leg(agent_id)

    def ready(self, agent_id: str) -> None:
        self._in_step(partial(self._ready, agent_id))

    def _ready(self, agent_id: str, now: datetime) -> None:
        s = self.agent(agent_id)
        self._record_wrapup(s, now)
        s.ready(now)
        self._touch(s)
        self._agent_became_ready(s, now)
        self._pace_all(now)

    def _record_wrapup(self, s: AgentSession, now: datetime) -> None:
        """Measured wrap-up lengths feed predictive pacing (call before readying the agent); the
        wrap-up's timer is cancelled."""
        if s.state is AgentState.WRAP_UP:
            self._cancel_timer("wrapup", s.agent_id)
            if s.call_campaign in self.estimators:
                self._measure(self._estimator(s.call_campaign).wrap.add(_since(s, now)))

    def _agent_became_ready(self, s: AgentSession, now: datetime) -> None:
        """A waiting human answer gets this agent first (``first_waiting_answer``)."""
        takeable = []
        for call in self.waiting.values():
            c = self.campaign(call.campaign_id)
            if c.config.skill in s.skills:
                assert call.answered_at is not None
                takeable.append((call, c.priority, call.answered_at))
        best = first_waiting_answer(takeable)
        if best is not None:
            self._connect(best, s, now)

    def pause(self, agent_id: str, reason_code: str, note: str = "") -> None:
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            self._leave_before_call(s, f"agent paused ({reason_code})", now)
            s.pause(reason_code, now, note)
            self._touch(s)
            self._pace_all(now)

        self._in_step(step)

    def log_out(self, agent_id: str, by: str = "agent") -> None:
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            self._leave_before_call(s, "agent logged out", now)
            s.log_out(now, by=by)
            self._touch(s)
            if agent_id in self.legs:
                self.uow.after_commit(partial(self._close_leg, agent_id))
            self._pace_all(now)

        self._in_step(step)

    def _leave_before_call(self, s: AgentSession, why: str, now: datetime) -> None:
        """R17: an agent who pauses or logs out while a call placed for them is ringing."""
        if s.state is AgentState.OFFERED:
            self._release_offer(s, why, now, decline=False)
        elif s.state is AgentState.RESERVED:
            for call in list(self.calls.values()):
                if call.agent_id == s.agent_id and not call.connected:
                    cid = call.call_id
                    self._hang_up(cid, why)
                    self._finish_call(call, CallOutcome.CANCELLED, why, now)
        elif s.state is AgentState.READY:
            self._trim_progressive(s, why, now)

    def _trim_progressive(self, leaving: AgentSession, why: str, now: datetime) -> None:
        """Progressive keeps one call per ready agent: when a ready agent leaves, the youngest
        unanswered call beyond that is cancelled (not an attempt) instead of becoming a silent call."""
        for c in self._by_priority():
            if c.dial_mode is not DialMode.PROGRESSIVE or c.config.skill not in leaving.skills:
                continue
            ready = sum(1 for s in self._agents_for(c) if s.state is AgentState.READY and s is not leaving)
            ringing = sorted(
                (call for call in self.calls.values() if call.campaign_id == c.id and call.answered_at is None),
                key=lambda call: call.dialled_at,
            )
            waiting = sum(1 for call in self.waiting.values() if call.campaign_id == c.id)
            for call in progressive_excess(ringing, waiting, ready):
                cid = call.call_id
                self._hang_up(cid, why)
                self._finish_call(call, CallOutcome.CANCELLED, f"{why}; cancelled before answer", now)

    def _release_offer(self, s: AgentSession, why: str, now: datetime, decline: bool = True) -> None:
        assert s.offer_id is not None and s.offer_contact is not None
        contact = self.contact(s.offer_contact)
        if contact.offer_id == s.offer_id:
            contact.release_offer(s.offer_id, why, now)
            self._touch(contact)
        if decline:
            s.decline_offer(s.offer_id, why, now)
            self._touch(s)

    def accept_offer(self, agent_id: str, offer_id: UUID) -> UUID | None:
        """The agent answered the offer (agent leg first): now the contact is dialled."""

        def step(now: datetime) -> UUID | None:
            s = self.agent(agent_id)
            s.accept_offer(offer_id, now)
            self._touch(s)
            self._cancel_timer("offer", agent_id)
            assert s.offer_contact is not None and s.offer_campaign is not None
            c = self.campaign(s.offer_campaign)
            contact = self.contact(s.offer_contact)
            decision_id = self._undo.pop(self.offer_decisions, offer_id)
            call_before = set(self.calls)
            if not self._dial(c, contact, now, decision_id=decision_id, agent_id=agent_id, offer_id=offer_id):
                if contact.state is ContactState.OFFERED:
                    contact.release_offer(offer_id, "dial not authorised", now)
                    self._touch(contact)
                s.decline_offer(offer_id, "dial not authorised", now)
            new = set(self.calls) - call_before
            self._pace_all(now)
            return next(iter(new), None)

        return self._in_step(step)

    def decline_offer(self, agent_id: str, offer_id: UUID, reason: str = "declined by agent") -> None:
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            if s.state is not AgentState.OFFERED or s.offer_id != offer_id:
                raise NotAllowed(f"agent {agent_id} holds no offer {offer_id}")
            self._release_offer(s, reason, now)
            self._cancel_timer("offer", agent_id)
            self._undo.pop(self.offer_decisions, offer_id)
            self._pace_all(now)

        self._in_step(step)

    def agent_hung_up(self, agent_id: str) -> None:
        """R6: the agent leg hung up while the contact was still ringing: not an attempt."""

        def step(now: datetime) -> None:
            self.agent(agent_id)  # an unknown agent is an error
            for call in list(self.calls.values()):
                if call.agent_id == agent_id and not call.connected and call.answered_at is None:
                    cid = call.call_id
                    self._hang_up(cid, "agent leg hung up")
                    self._finish_call(call, CallOutcome.CANCELLED, "agent leg hung up before the maximum ring time", now)
            self._pace_all(now)

        self._in_step(step)

    def hold(self, agent_id: str, on: bool = True) -> None:
        """The agent puts the person on hold (``on``) or takes them off it (R18): an event on the
        agent's stream, then the telephony plays hold music or bridges back."""

        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            call_id = s.hold(now) if on else s.resume(now)
            self._touch(s)
            self.uow.after_commit(partial(self.telephony.hold, call_id, agent_id, on))

        self._in_step(step, run_timers=False)

    def end_call(self, agent_id: str) -> None:
        """The agent hangs up the connected call: it is completed and wrap-up begins (R16). Not
        while the person is on hold: resume first."""

        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            if s.held_since is not None:
                raise NotAllowed(f"agent {agent_id}'s call is on hold; resume it before hanging up")
            call = self.calls.get(s.call_id) if s.call_id is not None else None
            if call is None or not call.connected or call.agent_id != agent_id:
                raise NotAllowed(f"agent {agent_id} is {s.state.value}, not in a connected call")
            self._hang_up(call.call_id, "the agent hung up")
            self._finish_call(call, CallOutcome.COMPLETED, "the agent hung up", now)
            self._pace_all(now)

        self._in_step(step)

    def extend_wrapup(self, agent_id: str, seconds: float) -> None:
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            s.extend_wrapup(seconds, now)
            self._touch(s)

        self._in_step(step, run_timers=False)

    def dispose(
        self,
        agent_id: str,
        code: str,
        note: str = "",
        callback_at: datetime | None = None,
        answers: Mapping[str, str] | None = None,
        personal: bool = False,
        *,
        then_ready: bool = False,
    ) -> None:
        """The agent's wrap-up code for their last call with the call guide's answers (R18), and
        optionally a callback (R12; a code that books one needs its time). A code that ends the
        contact finishes it; one that adds to the do-not-call list puts the number called on the
        internal list once the disposition is stored (issue 16). ``personal``: the callback is the
        agent's own (it waits for them, as long as the campaign allows); else any agent's.
        ``then_ready``: and the agent is ready for the next call, in the same step (both or neither,
        one append): the events ``dispose`` and then ``ready`` would store, in their order."""

        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            if s.call_contact is None or s.call_campaign is None:
                raise NotAllowed(f"agent {agent_id} has had no call to dispose")
            if s.state is AgentState.TALKING:
                raise NotAllowed(f"agent {agent_id} is still talking; dispose in wrap-up")
            c = self.campaign(s.call_campaign)
            contact = self.contact(s.call_contact)
            booked_at = callback_at
            if callback_at is not None:  # outside the campaign's hours: refused, or moved to the next opening (R12)
                booked_at, _warning = callback_time(callback_at, c.hours, c.config.callback_outside_hours)
            d = contact.record_disposition(
                s.call_id, code, agent_id=agent_id, note=note, settings=c.config, at=now, answers=answers, guide=c.call_guide, callback_at=callback_at
            )
            if d.do_not_call and contact.last_number is not None:  # the person asked not to be called
                why = f"disposition {code} by agent {agent_id} on contact {contact.key}"
                self.uow.after_commit(partial(self.do_not_call.add, INTERNAL, [contact.last_number], by=f"agent {agent_id}", reason=why))
            if booked_at is not None:
                contact.schedule_callback(booked_at, agent_id=agent_id if personal else None, by=f"agent {agent_id}", now=now)
            self._touch(contact)
            if then_ready:
                self._run_timers(now)  # what ``ready``'s own step runs first
                self._ready(agent_id, now)

        self._in_step(step, run_timers=False)

    def schedule_callback(self, contact_id: UUID, callback_at: datetime, *, agent_id: str | None, by: str) -> None:
        def step(now: datetime) -> None:
            contact = self.contact(contact_id)
            contact.schedule_callback(callback_at, agent_id=agent_id, by=by, now=now)
            self._touch(contact)

        self._in_step(step, run_timers=False)

    # ================================================================== state for reports

    def calls_in_flight(self) -> int:
        return len(self.calls)
