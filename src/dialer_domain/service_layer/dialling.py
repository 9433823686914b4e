"""Dialling: the periodic queue top-up (R4), pacing for every campaign by priority (R1, R2), and
the one way a call is placed (authorised first, R5, R14)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from uuid import UUID

from dialer_domain.model.agent import AgentSession
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import NotAllowed
from dialer_domain.model.identities import pacing_log_id_for
from dialer_domain.model.pacing_log import PacingLog
from dialer_domain.model.values import AgentState, ContactState, DialMode
from dialer_domain.rules.abandon_cap import AbandonCap
from dialer_domain.rules.authorisation import Authorisation, DialContext, abandon_quiet_over, authorise_dial
from dialer_domain.rules.callbacks import personal_callback_for
from dialer_domain.rules.calling_hours import POLICIES, next_opening
from dialer_domain.rules.dialling import needs_machine_detection, queue_target
from dialer_domain.rules.do_not_call import AskedTogether
from dialer_domain.rules.pacing import PacingSnapshot, decide
from dialer_domain.rules.schedule import local_day
from dialer_domain.rules.selection import compiled, contact_facts
from dialer_domain.service_layer.dialler_core import AUTO_PACE_AGENTS, AUTO_PACE_SECONDS, DiallerCore, LiveCall, _idle_since, _since, screen_pop
from dialer_domain.service_layer.ports import CallRequest, DoNotCall


class Dialling(DiallerCore):
    # ================================================================== periodic work

    def tick(self, *, periodic: bool = True) -> None:
        """Timers, the queue top-up (R4) and pacing for every campaign. The periodic tick paces
        whatever the pacing interval; a wake-up for a timer that came due (``periodic=False``)
        paces within it, as an event does (ADR 0026, ADR 0030)."""

        def top_up(now: datetime) -> None:
            for c in self._by_priority():
                self._queue_run(c, now)

        now = self._step()
        self._in_step(top_up, now=now)  # what timers released and the queue run added is visible to pacing
        self._in_step(partial(self._pace_all, force=periodic), now=now, run_timers=False)

    def _by_priority(self) -> list[Campaign]:
        return sorted((c for c in self.campaigns.values() if c.settings is not None), key=lambda c: (-c.priority, c.name))

    def _agents_for(self, c: Campaign) -> list[AgentSession]:
        skill = c.config.skill
        return [s for s in self.agents.values() if s.logged_in and skill in s.skills]

    def _queue_run(self, c: Campaign, now: datetime, force: bool = False) -> None:
        t = now.timestamp()
        due_callbacks, next_callback = self.queue.callbacks(c.id, now) if c.may_dial(now) else (0, None)
        if next_callback is not None and self._callback_alarm.get(c.id) != next_callback:  # wake at the appointment (R12)
            self._undo.put(self._callback_alarm, c.id, next_callback)
            self._timer(next_callback, "callback", c.id)
        last = self._last_queue_run.get(c.id)
        if not force and not due_callbacks and last is not None and t - last < self.config.queue_every_seconds:
            return
        self._undo.put(self._last_queue_run, c.id, t)
        if not c.is_active(now) and self.queue.queued_count(c.id) > 0:
            why = "campaign disabled" if c.status.value == "disabled" else "campaign outside its hours"
            queued = self.queue.queued(c.id)
            self.folds.preload(queued)
            for cid in queued:
                contact = self.contact(cid)
                if contact.state is ContactState.QUEUED:  # the aggregate decides; the view may lag
                    contact.return_to_list(why, now)
                    self._touch(contact)
                else:
                    self._forget_contact(cid)
            return
        if not c.may_dial(now):
            return
        if c.selection.active is not None:
            self._drop_unselected(c, now)
        target = queue_target(len(self._agents_for(c)))
        if target == 0:
            return
        need = max(target - self.queue.queued_count(c.id), due_callbacks)  # a due callback enters even a full queue
        if need <= 0:
            return
        due = self.queue.take_due(c.id, now, need, agent_owned=c.dial_mode is DialMode.AUTO)
        self.folds.preload(due)
        for cid in due:
            contact = self.contact(cid)
            try:
                contact.queue(now)
            except NotAllowed:
                self._forget_contact(cid)
                continue
            self._touch(contact)

    def _drop_unselected(self, c: Campaign, now: datetime) -> None:
        """R10: a queued contact the campaign's active filter no longer selects goes back to the list."""
        queued = self.queue.queued(c.id)
        self.folds.preload(queued)
        for cid in queued:
            contact = self.contact(cid)
            if contact.state is ContactState.QUEUED:
                self._still_selected(c, contact, now)

    def _still_selected(self, c: Campaign, contact: ContactAttempt, now: datetime) -> bool:
        """Whether the queued contact is still selected by the campaign's active filter (R10; a
        callback always is); if not, it goes back to the list, with why."""
        if c.selection.active is None or contact.state_before_queue is ContactState.CALLBACK_SCHEDULED:
            return True
        if compiled(c.selection).selects(contact_facts(contact.key, contact.data, contact.priority, contact.assigned_agent)):
            return True
        contact.return_to_list(f"no longer selected by the campaign's filter {c.selection.active}", now)
        self._touch(contact)
        return False

    def _pace_all(self, now: datetime, *, timer: bool = False, force: bool = False) -> None:
        if self._batch_at is not None and not timer:  # a batch of reports: paced once, after it is stored
            self._pace_after_batch = True
            return
        clock = self.pacing
        if timer:  # the "pace" timer went off
            self._undo.set(clock, timer_set=False)
        if self.draining:  # stopping: no new dials; calls in progress end as they do
            return
        every = self.config.pace_every_seconds
        if every is None:
            # counted only as far as the threshold: a team of 1,000 costs what one of 100 does
            logged_in = (s for s in self.agents.values() if s.logged_in)
            large = len(self.agents) >= AUTO_PACE_AGENTS and sum(1 for _ in islice(logged_in, AUTO_PACE_AGENTS)) >= AUTO_PACE_AGENTS
            every = AUTO_PACE_SECONDS if large else 0.0
        paced = True  # power and predictive campaigns are paced in this run
        if every > 0:
            t = now.timestamp()
            if t < clock.paced_at + every and not force:
                paced = False
                if not clock.timer_set:
                    self._undo.set(clock, timer_set=True)
                    self._timer(now + timedelta(seconds=clock.paced_at + every - t), "pace", "all")
            else:
                self._undo.set(clock, paced_at=t)
        claimed: set[str] = set()
        for c in self._by_priority():
            if not c.may_dial(now):
                continue
            if not paced and c.dial_mode in (DialMode.POWER, DialMode.PREDICTIVE):
                continue
            if c.dial_mode.agent_first:
                self._pace_agent_first(c, now, claimed)
            else:
                self._pace_contact_first(c, now, claimed)

    def _log_decision(self, c: Campaign, now: datetime, **fields: object) -> UUID:
        kept = self._pacing_days.get(c.id)  # the log's id, worked out once a local day
        if kept is None or not kept[0] <= now < kept[1] or kept[2] is not c.hours:
            day, until = local_day(c.hours, now)
            kept = self._pacing_days[c.id] = (now, until, c.hours, pacing_log_id_for(c.id, day))
        log_id = kept[3]
        log = self.pacing_logs.get(c.id)
        if log is None or log.id != log_id:
            found = self.repo.find(PacingLog, log_id)
            log = found if found is not None else PacingLog(id=log_id)
            self.pacing_logs[c.id] = log
        decision_id = self.ids()
        log.record(now, campaign_id=c.id, decision_id=decision_id, dial_mode=c.dial_mode, **fields)
        self._touch(log)
        return decision_id

    def _abandon_cap(self, c: Campaign, now: datetime) -> AbandonCap | None:
        """The campaign's rolling abandon rates against its cap (None: it has none)."""
        limit = c.config.abandon_cap
        return self.folds.abandons.cap(c.id, limit, now) if limit is not None else None

    def compliance_now(self, c: Campaign, now: datetime) -> dict[str, object]:
        """A campaign's compliance as a supervisor watches it: its rolling abandon rates against
        its cap, how pacing takes them (from the headroom alone: a decision also counts the calls
        then in flight, so it may hold back further), and the dials refused in the last 24 hours
        by rule."""
        cap = self._abandon_cap(c, now)
        out: dict[str, object] = {"abandon_cap": c.config.abandon_cap}
        if cap is not None:
            for w in cap.windows:
                out[f"abandon_rate_{w.span}"] = round(w.rate, 5) if w.rate is not None else None
                out[f"answered_{w.span}"] = w.answered
                out[f"abandoned_{w.span}"] = w.abandoned
            out["abandon_headroom"] = round(cap.headroom, 2)
            if c.dial_mode in (DialMode.POWER, DialMode.PREDICTIVE):
                out["pacing"] = "progressive (held by the cap)" if cap.factor <= 0 else "eased by the cap" if cap.factor < 1 else "as set"
        out["refused_24h"] = self.refusals.counts(c.id, now)
        last = self.refusals.last(c.id)
        out["last_refusal"] = {"at": last[0].isoformat(), "why": last[1]} if last else None
        return out

    def _pace_contact_first(self, c: Campaign, now: datetime, claimed: set[str]) -> None:
        # the campaign's agents, by state, in one pass (each list in the sessions' order)
        skill, logged_in = c.config.skill, 0
        unclaimed: list[AgentSession] = []
        wrapping: list[AgentSession] = []
        talking: list[AgentSession] = []
        for s in self.agents.values():
            state = s.state
            if state is AgentState.LOGGED_OUT or skill not in s.skills:
                continue
            logged_in += 1
            if state is AgentState.READY:
                if s.agent_id not in claimed:
                    unclaimed.append(s)
            elif state is AgentState.WRAP_UP:
                wrapping.append(s)
            elif state is AgentState.TALKING:
                talking.append(s)
        ready = sorted(unclaimed, key=_idle_since)
        campaign_id = c.id  # tested after the answer: UUID equality is Python code
        dialling = [call for call in self.calls.values() if call.answered_at is None and call.campaign_id == campaign_id]
        waiting = sum(1 for call in self.waiting.values() if call.campaign_id == campaign_id)
        in_flight = len(dialling) + waiting
        if c.dial_mode is DialMode.PROGRESSIVE and len(ready) <= in_flight:
            # Every ready agent has a call in flight: progressive places none (what ``decide``
            # says then, without the snapshot's timings and the cap's windows it would not use).
            claimed.update(s.agent_id for s in ready)
            if ready:
                self._refill_if_empty(c, now, self.queue.queued_count(c.id))
            return
        snap = PacingSnapshot(
            ready_agents=len(ready),
            wrapup_elapsed=tuple([_since(s, now) for s in wrapping]),
            talking_elapsed=tuple([_since(s, now) for s in talking]),
            dialling_elapsed=tuple([(now - call.dialled_at).total_seconds() for call in dialling]),
            answered_waiting=waiting,
            logged_in=logged_in,
            queued_contacts=self.queue.queued_count(c.id),
        )
        # Nobody ready: progressive waits; power and predictive may still dial for agents about to free.
        if snap.ready_agents == 0 and (c.dial_mode is DialMode.PROGRESSIVE or not (snap.wrapup_elapsed or snap.talking_elapsed)):
            return
        decision = decide(c.dial_mode, c.config, snap, self._estimator(c.id), cap=self._abandon_cap(c, now), explain=False)
        for s in ready[: in_flight + decision.calls]:
            claimed.add(s.agent_id)
        if decision.calls <= 0:
            if snap.ready_agents > 0:
                self._refill_if_empty(c, now, snap.queued_contacts)
            return
        decision_id = self._log_decision(
            c,
            now,
            ready_agents=snap.ready_agents,
            agents_in_wrapup=len(snap.wrapup_elapsed),
            agents_talking=len(snap.talking_elapsed),
            calls_in_flight=len(dialling),
            answered_waiting=waiting,
            estimates=decision.estimates,
            target_abandon_rate=c.config.target_abandon_rate,
            calls_to_place=decision.calls,
            reason=decision.reason,
        )
        tried: set[UUID] = set()
        placed = 0
        free = [s.agent_id for s in ready[in_flight:]]  # the ready agents no call in flight is for yet, longest idle first
        while placed < decision.calls:
            # the next contacts, as many as calls are still to place, tried in queue order as one
            # by one; their numbers' do-not-call verdicts are asked for at once
            chunk: list[UUID] = []
            while len(chunk) < decision.calls - placed and (cid := self.queue.next_queued(c.id, exclude=frozenset(tried))) is not None:
                tried.add(cid)
                chunk.append(cid)
            if not chunk:
                break
            self.folds.preload(chunk)
            lists = self._asked_together(c, chunk, now)
            for cid in chunk:
                contact = self.contact(cid)
                if contact.state is not ContactState.QUEUED:  # a view that lags: the aggregate says no
                    self._forget_contact(cid)
                    continue
                if not self._still_selected(c, contact, now):
                    continue
                placed_for = free[placed] if placed < len(free) else None
                if self._dial(c, contact, now, decision_id=decision_id, agent_id=None, offer_id=None, placed_for=placed_for, lists=lists):
                    placed += 1

    def _asked_together(self, c: Campaign, contact_ids: list[UUID], now: datetime) -> DoNotCall:
        """The do-not-call lists, with the verdicts for the numbers these queued contacts would be
        dialled on asked for at once (one query, not one a dial); for this step only."""
        numbers = []
        for cid in contact_ids:
            contact = self.contact(cid)
            if contact.state is ContactState.QUEUED and (i := contact.dialable_number(now, c.config)) is not None:
                numbers.append(contact.numbers[i].e164)
        if len(numbers) < 2:
            return self.do_not_call
        return AskedTogether(self.do_not_call, c.id, self.do_not_call.check_many(numbers, c.id))

    def _refill_if_empty(self, c: Campaign, now: datetime, queued: int) -> None:
        """Agents ready and nothing queued: a queue run now (forced at most every 5 s)."""
        if queued == 0:
            self._queue_run(c, now, force=self._last_queue_run.get(c.id, 0.0) + 5 <= now.timestamp())

    def _overdue_personal_callback(self, c: Campaign, s: AgentSession, now: datetime, taken: frozenset[UUID]) -> UUID | None:
        """Auto mode: an agent with none of their own contacts left takes another agent's personal
        callback that has waited for its agent longer than the campaign allows (R12; callbacks lead
        the queue, so only its head is looked at)."""
        seen: set[UUID] = set()
        while (cid := self.queue.next_queued(c.id, None, taken | seen)) is not None:
            contact = self.contact(cid)
            if contact.state_before_queue is not ContactState.CALLBACK_SCHEDULED:
                return None
            if contact.state is ContactState.QUEUED and personal_callback_for(contact, s.agent_id, c.config, now, auto=True):
                return cid
            seen.add(cid)
        return None

    def _pace_agent_first(self, c: Campaign, now: datetime, claimed: set[str]) -> None:
        agents = self._agents_for(c)
        if len(agents) < c.config.min_agents:
            return
        ready = sorted((s for s in agents if s.state is AgentState.READY and s.agent_id not in claimed), key=_idle_since)
        if not ready:
            return
        offers: list[tuple[AgentSession, UUID]] = []
        taken: set[UUID] = set()
        for s in ready:
            others: set[UUID] = set()  # personal callbacks of other agents, still waiting for them (R12)
            own = s.agent_id if c.dial_mode is DialMode.AUTO else None
            while True:
                cid = self.queue.next_queued(c.id, own, frozenset(taken | others))
                if cid is None:
                    cid = self._overdue_personal_callback(c, s, now, frozenset(taken)) if own is not None else None
                    if cid is None:
                        break
                contact = self.contact(cid)
                if contact.state is ContactState.QUEUED and not personal_callback_for(contact, s.agent_id, c.config, now):
                    others.add(cid)
                    continue
                taken.add(cid)
                if contact.state is ContactState.QUEUED:  # a view that lags: the aggregate decides
                    if self._still_selected(c, contact, now):
                        offers.append((s, cid))
                        break
                    continue
                self._forget_contact(cid)
        if not offers:
            self._refill_if_empty(c, now, self.queue.queued_count(c.id))
            return
        decision_id = self._log_decision(
            c,
            now,
            ready_agents=len(ready),
            agents_in_wrapup=sum(1 for s in agents if s.state is AgentState.WRAP_UP),
            agents_talking=sum(1 for s in agents if s.state is AgentState.TALKING),
            calls_in_flight=sum(1 for call in self.calls.values() if call.campaign_id == c.id),
            answered_waiting=0,
            estimates=cap.evidence() if (cap := self._abandon_cap(c, now)) is not None else {},
            target_abandon_rate=c.config.target_abandon_rate,
            calls_to_place=len(offers),
            reason=f"{c.dial_mode.value}: {len(ready)} ready agents, offering {len(offers)} contacts agent-first",
        )
        expires = now + timedelta(seconds=c.config.preview_timeout_seconds)
        for s, cid in offers:
            contact = self.contact(cid)
            ctx = DialContext(c, contact, now, self.calendar, self.do_not_call, agent_id=s.agent_id)
            auth = authorise_dial(ctx, self.rules)
            if not auth.allowed:
                self._not_now(ctx, auth)
                continue
            offer_id = self.ids()
            s.offer(offer_id=offer_id, campaign_id=c.id, contact_id=cid, expires_at=expires, at=now)
            contact.offer(s.agent_id, offer_id, now)
            self._touch(s)
            self._touch(contact)
            claimed.add(s.agent_id)
            self._undo.put(self.offer_decisions, offer_id, decision_id)
            self._timer(expires, "offer", s.agent_id, offer_id)
            pop = screen_pop(c, contact)
            auto = c.config.auto_answer
            self.uow.after_commit(partial(self.desktop.offered, s.agent_id, offer_id, pop, expires, auto))

    def _not_now(self, ctx: DialContext, auth: Authorisation) -> None:
        """A queued contact whose dial is not allowed now goes back to the list. A number on a
        do-not-call list is skipped for the round (the contact's other numbers are dialled at its
        next turn; with none left, it is done), and so is a contact dialled as often as the campaign
        allows. Outside the callee's hours, it is not queued
        again before they open; within 72 hours of an abandoned call, not before they are over."""
        contact, reason = ctx.contact, "; ".join(auth.reasons)
        self.uow.after_commit(partial(self.refusals.add, ctx.campaign.id, auth.blocked_by, reason, ctx.at))
        if "dials_left" in auth.blocked_by:
            contact.give_up(reason, ctx.at)
        elif "not_on_do_not_call" in auth.blocked_by:
            assert ctx.number_index is not None
            contact.skip_number(ctx.number_index, reason, ctx.campaign.config, ctx.at)
            if contact.state is ContactState.QUEUED:
                contact.return_to_list(reason, ctx.at)
        else:
            not_before = abandon_quiet_over(ctx) if "not_abandoned_recently" in auth.blocked_by else None
            if "callee_local_hours" in auth.blocked_by:
                assert ctx.callee is not None
                policy = POLICIES[ctx.campaign.config.calling_policy]
                not_before = next_opening(policy, ctx.callee.zones, not_before or ctx.at, ctx.calendar.holiday, contact.dial_times)
            contact.return_to_list(reason, ctx.at, not_before)
        self._touch(contact)

    def _dial(
        self,
        c: Campaign,
        contact: ContactAttempt,
        now: datetime,
        *,
        decision_id: UUID | None,
        agent_id: str | None,
        offer_id: UUID | None,
        placed_for: str | None = None,
        lists: DoNotCall | None = None,
    ) -> bool:
        ctx = DialContext(c, contact, now, self.calendar, lists or self.do_not_call, agent_id=agent_id)
        auth = authorise_dial(ctx, self.rules)
        if not auth.allowed:
            if contact.state is ContactState.QUEUED:
                self._not_now(ctx, auth)
            return False
        call_id = self.ids()
        dialled = contact.dial(
            call_id=call_id,
            settings=c.config,
            dial_mode=c.dial_mode,
            agent_id=agent_id,
            decision_id=decision_id,
            checks=auth.checks,
            at=now,
            callee=ctx.callee,
            dnc_checked=ctx.dnc.checked if ctx.dnc is not None else (),
            placed_for=placed_for,
        )
        self._touch(contact)
        self._undo.put(self.calls, call_id, LiveCall(call_id, c.id, contact.id, now, agent_id=agent_id, offer_id=offer_id))
        self._timer(now + timedelta(seconds=c.config.max_ring_seconds + self.config.ring_backstop_seconds), "ring", call_id)
        cfg = c.config
        request = CallRequest(
            call_id=call_id,
            number=dialled.number,
            caller_id_number=cfg.caller_id_number,
            caller_id_name=cfg.caller_id_name,
            max_ring_seconds=cfg.max_ring_seconds,
            max_call_seconds=cfg.max_call_seconds,
            detect_machine=needs_machine_detection(agent_id),
        )
        self.uow.after_commit(partial(self.telephony.place_call, request))
        return True
