"""The dialler: pacing, ordering, callbacks and agents, for every campaign at once (R1-R6, R8,
R11-R17). It reads time from the clock port, stores events through the event-store port, places
calls through the telephony port and tells agents' desktops what to show through the desktop port.

Every public method is one step: it reads the clock once, changes aggregates, appends all their
events in one atomic append, feeds the committed events to its views, and only then acts on the
world (places or hangs up calls, pops screens). The in-memory views (campaigns, agents, the live
queue) are folds of the log: on start the engine replays the log, and events other writers append
(the CLI, the API, an import) reach it through ``sync``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from dialer_domain.model.values import AgentState, CallOutcome, ContactState
from dialer_domain.service_layer.agent_steps import AgentSteps
from dialer_domain.service_layer.call_reports import OUTCOME, STAGE
from dialer_domain.service_layer.dialler_core import STEP_ATTEMPTS, DiallerCore, EngineConfig, LiveCall
from dialer_domain.service_layer.ports import CallFate, CallReport, ReportKind

__all__ = ["STEP_ATTEMPTS", "Dialler", "DiallerCore", "EngineConfig", "LiveCall"]


class Dialler(AgentSteps):
    """The dialler, whole: its core (``service_layer.dialler_core``), dialling and pacing
    (``dialling``), call progress (``call_progress``), the agents' side (``agent_steps``), and
    the timers that tie them together."""

    def on_report(self, report: CallReport) -> None:
        """A report from telephony (see ``ports.Telephony``): admitted once and in order by the
        gate (``call_reports.ReportGate``), then acted on as one step. Call it on the dialler's own
        thread: adapters report into an inbox that the live service drains."""
        if self.report_gate.admit(report):
            self._act(report)

    def on_reports(self, reports: Sequence[CallReport]) -> None:
        """Reports drained together (the live service's inbox) are acted on as one step: one
        atomic append for all their facts, then their effects in order. Under load, the reports
        that queue up while one append is written share the next one (a group commit, ADR 0027).
        Each report is admitted by the gate as in ``on_report``, and acted on as its own step would
        be, at the batch's instant, except that pacing runs once, as a step of its own after the
        batch is stored (so it counts every answer and abandon of the batch). An append refused by
        another writer runs the batch again on fresh state. A batch that still fails is undone
        whole, and each report then runs as a step of its own, so a report that cannot be acted on
        takes no other fact with it. Those failures are raised after the other reports are stored."""
        admitted = [r for r in reports if self.report_gate.admit(r)]
        if len(admitted) > 1:

            def batch(now: datetime) -> datetime:
                self._batch_at, self._pace_after_batch = now, False
                try:
                    for r in admitted:
                        self._act(r)
                finally:
                    self._batch_at = None
                return now

            try:
                at = self._in_step(batch)
            except Exception:  # undone whole: each report again, on its own, below
                pass
            else:
                if self._pace_after_batch:
                    self._pace_after_batch = False
                    self._in_step(self._pace_all, now=at, run_timers=False)
                return
        failures: list[Exception] = []
        for r in admitted:
            try:
                self._act(r)
            except Exception as exc:
                failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ExceptionGroup(f"{len(failures)} of {len(admitted)} reports could not be acted on", failures)

    def _act(self, report: CallReport) -> None:
        kind = report.kind
        if kind is ReportKind.AGENT_LEG_ENDED:
            assert report.agent_id is not None
            s = self.agents.get(report.agent_id)
            if s is not None and s.logged_in:
                self.agent_hung_up(report.agent_id)
            return
        if kind is ReportKind.AGENT_LEG_UP or report.call_id is None:
            return
        if kind is ReportKind.PLACED:
            self.on_call_placed(report.call_id, report.network_call_id)
            return
        outcome = OUTCOME[kind]
        if STAGE[kind] < 3:
            self.on_call_progress(report.call_id, outcome, reported_at=report.at)
        else:
            self.on_call_ended(report.call_id, outcome, report.detail or outcome.value)

    def recover(self, reason: str = "the dialler restarted; what became of the call is unknown") -> int:
        """After a crash, once, after ``sync``: settle what the log left in progress. Each call in
        flight is reconciled through the telephony port: asked by the name the network gave it
        (``Telephony.fate``), it is settled as the network says (``_settle``). A call whose fate
        cannot be known is hung up and ended with ``reason`` (a connected one completed, an
        answered one waiting for an agent abandoned, one still ringing failed) and its contact
        handled by the campaign's rules. An offer is released; a talking agent whose call is over
        goes to wrap-up, a reserved or offered one back to Ready, wrap-up timers are set again, and
        an agent who logged in with a phone has it called again (a new leg held for the session).
        Returns how many calls were ended."""
        stuck = self.queue.in_progress()
        fates: dict[UUID, CallFate | None] = {}
        ended = 0

        def step(now: datetime) -> None:
            nonlocal ended
            ended = 0
            for contact_id in stuck:
                contact = self.contact(contact_id)
                current = contact.current_call
                if contact.state is ContactState.OFFERED and contact.offer_id is not None:
                    holder = self.agents.get(contact.offer_agent or "")
                    if holder is not None and holder.offer_id == contact.offer_id:
                        self._release_offer(holder, reason, now)
                    else:
                        contact.release_offer(contact.offer_id, reason, now)
                        self._touch(contact)
                elif current is not None and contact.campaign_id is not None and current.call_id not in self.calls:
                    call = LiveCall(
                        current.call_id,
                        contact.campaign_id,
                        contact.id,
                        current.dialled_at,
                        agent_id=current.connected_agent or current.agent_id,
                        answered_at=current.answered_at,
                        connected=current.connected_at is not None,
                    )
                    self._undo.put(self.calls, call.call_id, call)
                    if current.network_call_id and call.call_id not in fates:  # asked once, even if the step runs again
                        fates[call.call_id] = self.telephony.fate(call.call_id, current.network_call_id)
                    fate = fates.get(call.call_id)
                    if fate is not None:
                        ended += self._settle(call, fate, now)
                        continue
                    self._hang_up(call.call_id, reason)
                    if call.answered_at is not None and not call.connected:
                        self._abandon(call, reason, now, hang_up=False)
                    else:
                        self._finish_call(call, CallOutcome.FAILED, reason, now)
                    ended += 1
            for s in list(self.agents.values()):
                if s.state in (AgentState.OFFERED, AgentState.RESERVED) and s.offer_id is not None:
                    s.decline_offer(s.offer_id, reason, now)
                    self._touch(s)
                elif s.state is AgentState.TALKING and s.call_id is not None and s.call_id not in self.calls:
                    campaign = self.campaigns.get(s.call_campaign) if s.call_campaign else None
                    s.start_wrapup(s.call_id, campaign.config.wrapup_seconds if campaign else 0, now)
                    self._touch(s)
                if s.state is AgentState.WRAP_UP and s.wrapup_until is not None:
                    self._timer(s.wrapup_until, "wrapup", s.agent_id)
                if s.logged_in and s.phone and s.agent_id not in self.legs:  # the leg died with the earlier process
                    self.uow.after_commit(partial(self._open_leg, s.agent_id, s.phone))

        self._in_step(step, run_timers=False)
        return ended

    def _settle(self, call: LiveCall, fate: CallFate, now: datetime) -> int:
        """A call of an earlier process, as the network says it went (see ``recover``). An answer
        the log missed is recorded first. A conversation still going on is kept: the call is the
        dialler's again, its end will come as any call's does, and the maximum duration still cuts
        it. Any other call still up is hung up: an answered person waiting for an agent hears the
        abandoned-call message (R17), a machine is hung up, one still ringing is cancelled. Returns
        1 if the call was ended, 0 if it was kept."""
        why = f"{fate.detail} (asked after the dialler restarted)"
        contact = self.contact(call.contact_id)
        if fate.answer is not None and call.answered_at is None:
            contact.progress(call.call_id, OUTCOME[fate.answer], now)
            self._touch(contact)
            self._undo.set(call, answered_at=now)
        human = call.answered_at is not None and contact.current_call is not None and contact.current_call.answered_by is CallOutcome.ANSWERED_HUMAN
        if fate.end is None:
            if call.connected:
                c = self.campaign(call.campaign_id)
                since = contact.current_call.connected_at if contact.current_call and contact.current_call.connected_at else now
                self._timer(since + timedelta(seconds=c.config.max_call_seconds), "maxdur", call.call_id)
                return 0
            if human:
                self._abandon(call, f"answered, and no agent took the call before the restart: {why}", now)
            else:
                self._hang_up(call.call_id, why)
                outcome = CallOutcome.ANSWERED_MACHINE if call.answered_at is not None else CallOutcome.CANCELLED
                self._finish_call(call, outcome, why, now)
            return 1
        end = OUTCOME[fate.end]
        if call.connected:
            self._finish_call(call, CallOutcome.COMPLETED, why, now)
        elif human:
            self._abandon(call, f"answered, and no agent took the call before the restart: {why}", now, hang_up=False)
        elif call.answered_at is not None:
            self._finish_call(call, CallOutcome.ANSWERED_MACHINE, why, now)
        elif end is CallOutcome.COMPLETED:
            self._finish_call(call, CallOutcome.FAILED, f"the network reported completed before any answer: {why}", now)
        else:
            self._finish_call(call, end, why, now)
        return 1

    def _run_timers(self, now: datetime) -> None:
        t = now.timestamp()
        for kind, a, b in self.timers.due(now):
            if kind == "abandon":
                assert isinstance(a, UUID)
                call = self.waiting.get(a)
                if call is not None:
                    self._abandon(call, f"no agent free within {self.config.abandon_after_seconds:g}s", now)
            elif kind == "offer":
                assert isinstance(a, str) and b is not None
                s = self.agents.get(a)
                if s is not None and s.state is AgentState.OFFERED and s.offer_id == b:
                    self._release_offer(s, "offer not answered in time", now)
                    s.pause("not_ready", now, note="did not answer an offer")
                    self._touch(s)
            elif kind == "wrapup":
                assert isinstance(a, str)
                s = self.agents.get(a)
                if (
                    s is not None
                    and s.state is AgentState.WRAP_UP
                    and s.wrapup_until is not None
                    and s.wrapup_until.timestamp() <= t
                    and self.config.auto_ready_after_wrapup
                ):
                    self._record_wrapup(s, now)
                    s.ready(now, by="system: wrap-up time over")
                    self._touch(s)
                    self._agent_became_ready(s, now)
                elif s is not None and s.state is AgentState.WRAP_UP and s.wrapup_until is not None:
                    self._timer(s.wrapup_until, "wrapup", a)
            elif kind == "maxdur":
                assert isinstance(a, UUID)
                call = self.calls.get(a)
                if call is not None and call.connected:
                    self._hang_up(a, "maximum call duration reached")
                    self._finish_call(call, CallOutcome.COMPLETED, "cut at the maximum call duration", now)
            elif kind == "pace":
                self._pace_all(now, timer=True, force=True)
            elif kind == "callback":
                pass  # the wake-up alone: the queue run that follows takes the due callback (R12)
            elif kind == "ring":
                assert isinstance(a, UUID)
                call = self.calls.get(a)
                if call is not None and call.answered_at is None:
                    self._hang_up(a, "no answer within the maximum ring time")
                    self._finish_call(call, CallOutcome.NO_ANSWER, "no answer within the maximum ring time", now)
