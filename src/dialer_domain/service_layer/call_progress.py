"""Call progress from telephony: answers, machines, ends; a human answer connected to a free agent
or waiting for one, abandoned after the wait (R17); wrap-up after the call (R16)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from dialer_domain.model.agent import AgentSession
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.values import AgentState, CallOutcome
from dialer_domain.rules.dialling import abandon_message
from dialer_domain.service_layer.dialler_core import LiveCall, _idle_since, screen_pop
from dialer_domain.service_layer.dialling import Dialling


class CallProgress(Dialling):
    # ================================================================== call progress (telephony -> engine)

    def on_call_placed(self, call_id: UUID, network_call_id: str) -> None:
        """The network's name for a call in progress, recorded on the contact (what a restart asks
        the network about, and what an auditor matches with the carrier's records)."""

        def step(now: datetime) -> None:
            call = self.calls.get(call_id)
            if call is not None:
                contact = self.contact(call.contact_id)
                contact.placed(call_id, network_call_id, now)
                self._touch(contact)

        self._in_step(step, run_timers=False)

    def on_call_progress(self, call_id: UUID, progress: CallOutcome, reported_at: datetime | None = None) -> None:
        """``reported_at``: when the network says it happened (kept as evidence; the dialler acts now)."""

        def step(now: datetime) -> None:
            call = self.calls.get(call_id)
            if call is None or call.answered_at is not None:
                return
            contact = self.contact(call.contact_id)
            c = self.campaign(call.campaign_id)
            est = self._estimator(c.id)
            elapsed = (now - call.dialled_at).total_seconds()
            contact.progress(call_id, progress, now, reported_at)
            self._touch(contact)
            if progress is CallOutcome.ANSWERED_HUMAN:
                self._undo.set(call, answered_at=now)
                self._cancel_timer("ring", call_id)
                self._measure(est.record_dial_outcome(True, elapsed))
                if call.agent_id is not None:
                    s = self.agent(call.agent_id)
                    self._connect(call, s, now)
                else:
                    s_opt = self._free_agent_for(c)
                    if s_opt is not None:
                        self._connect(call, s_opt, now)
                    else:
                        self._undo.set(call, waiting=True)
                        self._undo.put(self.waiting, call_id, call)
                        self._timer(now + timedelta(seconds=self.config.abandon_after_seconds), "abandon", call_id)
            elif progress is CallOutcome.ANSWERED_MACHINE:
                self._undo.set(call, answered_at=now)
                self._measure(est.record_dial_outcome(False, elapsed))
                self._hang_up(call_id, "answering machine detected")
                self._finish_call(call, CallOutcome.ANSWERED_MACHINE, "answering machine detected", now)
            if progress is not CallOutcome.RINGING:  # ringing changes nothing pacing looks at
                self._pace_all(now)

        self._in_step(step)

    def on_call_ended(self, call_id: UUID, outcome: CallOutcome, reason: str = "") -> None:
        def step(now: datetime) -> None:
            call = self.calls.get(call_id)
            if call is not None:
                if call.waiting:
                    self._abandon(call, "contact hung up before an agent was free", now, hang_up=False)
                else:
                    ended, why = outcome, reason or outcome.value
                    if not call.connected and call.answered_at is None:
                        if outcome in (CallOutcome.COMPLETED, CallOutcome.ANSWERED_HUMAN, CallOutcome.RINGING):
                            # never dropped: an end the contact's state cannot take is kept as a failed call, with what was reported
                            ended, why = CallOutcome.FAILED, f"the network reported {outcome.value} before any answer"
                        if outcome is not CallOutcome.CANCELLED:
                            self._measure(self._estimator(call.campaign_id).record_dial_outcome(False, (now - call.dialled_at).total_seconds()))
                    self._finish_call(call, ended, why, now)
            self._pace_all(now)

        self._in_step(step)

    def _free_agent_for(self, c: Campaign) -> AgentSession | None:
        """The ready agent with the skill who has waited longest (the first such, on a tie)."""
        skill = c.config.skill
        ready = (s for s in self.agents.values() if s.state is AgentState.READY and skill in s.skills)
        return min(ready, key=_idle_since, default=None)

    def _connect(self, call: LiveCall, s: AgentSession, now: datetime) -> None:
        c = self.campaign(call.campaign_id)
        contact = self.contact(call.contact_id)
        contact.connect(call.call_id, s.agent_id, now)
        s.connect(call_id=call.call_id, campaign_id=c.id, contact_id=contact.id, at=now)
        self._touch(contact)
        self._touch(s)
        if call.waiting:
            self._cancel_timer("abandon", call.call_id)
        self._undo.set(call, connected=True, agent_id=s.agent_id, waiting=False)
        self._undo.pop(self.waiting, call.call_id)
        self._estimator(c.id).record_answer(abandoned=False)
        self._timer(now + timedelta(seconds=c.config.max_call_seconds), "maxdur", call.call_id)
        pop = screen_pop(c, contact)
        cid, aid = call.call_id, s.agent_id
        self.uow.after_commit(lambda: self.telephony.bridge(cid, aid))
        self.uow.after_commit(lambda: self.desktop.connected(aid, cid, pop))

    def _abandon(self, call: LiveCall, reason: str, now: datetime, hang_up: bool = True) -> None:
        contact = self.contact(call.contact_id)
        contact.abandon(call.call_id, reason, now)
        self._touch(contact)
        self._undo.pop(self.waiting, call.call_id)
        self._undo.set(call, waiting=False)
        self._estimator(call.campaign_id).record_answer(abandoned=True)
        if hang_up:
            cfg = self.campaign(call.campaign_id).config
            message = abandon_message(cfg.caller_id_name, cfg.caller_id_number)
            self.uow.after_commit(partial(self.telephony.play_and_hang_up, call.call_id, message))
        self._finish_call(call, CallOutcome.ABANDONED, reason, now)

    def _finish_call(self, call: LiveCall, outcome: CallOutcome, reason: str, now: datetime) -> None:
        self._undo.pop(self.calls, call.call_id)
        for kind in ("ring", "abandon", "maxdur"):
            self._cancel_timer(kind, call.call_id)
        c = self.campaign(call.campaign_id)
        contact = self.contact(call.contact_id)
        ended = contact.end_call(call.call_id, outcome, reason, c.config, now)
        self._touch(contact)
        if call.connected and call.agent_id is not None:
            s = self.agent(call.agent_id)
            if s.state is AgentState.TALKING and s.call_id == call.call_id:
                s.start_wrapup(call.call_id, c.config.wrapup_seconds, now)
                self._touch(s)
                assert s.wrapup_until is not None
                self._cancel_timer("wrapup", s.agent_id)  # an earlier wrap-up's, if it has not come due
                self._timer(s.wrapup_until, "wrapup", s.agent_id)
                until, aid, cid = s.wrapup_until, s.agent_id, call.call_id
                self.uow.after_commit(lambda: self.desktop.wrapup_started(aid, cid, until))
            self._measure(self._estimator(c.id).talk.add(ended.talk_seconds))
        elif call.agent_id is not None and call.offer_id is not None:
            s = self.agent(call.agent_id)
            if s.state is AgentState.RESERVED and s.offer_id == call.offer_id:
                s.decline_offer(call.offer_id, f"contact not reached: {ended.outcome.value}", now)
                self._touch(s)
