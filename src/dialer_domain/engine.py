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

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar
from uuid import UUID

import attrs

from dialer_domain.agent import AgentSession
from dialer_domain.aggregate import Aggregate
from dialer_domain.authorisation import DEFAULT_RULES, DialContext, Rule, authorise_dial
from dialer_domain.campaign import Campaign
from dialer_domain.contact import ContactAttempt
from dialer_domain.errors import ConcurrencyError, NotAllowed, NotFound
from dialer_domain.events import (
    AGENT_EVENTS,
    CAMPAIGN_EVENTS,
    AgentLoggedIn,
)
from dialer_domain.pacing import PacingEstimator, PacingSnapshot, decide
from dialer_domain.pacing_log import PacingLog
from dialer_domain.ports import (
    AgentDesktop,
    Clock,
    EventStore,
    IdFactory,
    NoDesktop,
    QueueView,
    RecordedEvent,
    ScreenPop,
    Telephony,
    agent_session_id_for,
    pacing_log_id_for,
)
from dialer_domain.queue import LiveQueue
from dialer_domain.repository import Repository
from dialer_domain.rules.dialling import first_waiting_answer, progressive_excess, queue_target
from dialer_domain.schedule import local_time
from dialer_domain.service_layer.timers import Timers
from dialer_domain.service_layer.unit_of_work import UnitOfWork
from dialer_domain.values import AgentState, CallOutcome, ContactState, DialMode

R = TypeVar("R")

#: How often a step is run again on fresh aggregates when another writer changed one first.
STEP_ATTEMPTS = 8

_LIVE_CONTACT_STATES = frozenset({ContactState.QUEUED, ContactState.OFFERED, ContactState.DIALLING, ContactState.CONNECTED})


@attrs.define
class LiveCall:
    call_id: UUID
    campaign_id: UUID
    contact_id: UUID
    dialled_at: datetime
    agent_id: str | None = None  # the reserved agent (agent-first) or the connected one
    offer_id: UUID | None = None
    answered_at: datetime | None = None
    connected: bool = False
    waiting: bool = False


@attrs.frozen
class EngineConfig:
    abandon_after_seconds: float = 2.0
    queue_every_seconds: float = 60.0
    tick_seconds: float = 1.0
    ring_backstop_seconds: float = 10.0
    auto_ready_after_wrapup: bool = True


class Dialler:
    def __init__(
        self,
        store: EventStore,
        telephony: Telephony,
        clock: Clock,
        ids: IdFactory,
        *,
        desktop: AgentDesktop | None = None,
        rules: Sequence[tuple[str, Rule]] = DEFAULT_RULES,
        config: EngineConfig | None = None,
        queue: QueueView | None = None,
    ) -> None:
        self.store = store
        self.repo = Repository(store)
        self.telephony = telephony
        self.clock = clock
        self.ids = ids
        self.desktop: AgentDesktop = desktop or NoDesktop()
        self.rules = tuple(rules)
        self.config = config or EngineConfig()
        self.queue: QueueView = queue if queue is not None else LiveQueue()
        self.campaigns: dict[UUID, Campaign] = {}
        self.sessions: dict[UUID, AgentSession] = {}
        self.agents: dict[str, AgentSession] = {}
        self.contacts: dict[UUID, ContactAttempt] = {}
        self.calls: dict[UUID, LiveCall] = {}
        self.waiting: dict[UUID, LiveCall] = {}
        self.estimators: dict[UUID, PacingEstimator] = {}
        self.pacing_logs: dict[UUID, PacingLog] = {}
        self.offer_decisions: dict[UUID, UUID] = {}
        self.position = 0
        self.listeners: list[Callable[[Sequence[RecordedEvent]], None]] = []
        self._last_queue_run: dict[UUID, float] = {}
        self.uow = UnitOfWork(store)
        self._undo = self.uow.undo
        self.timers = Timers(self._undo)
        self.now = clock.now()

    # ================================================================== views and commits

    def sync(self) -> int:
        """Fold what was appended since our position into the views; returns how many events.

        On start (position 0) with a queue view that keeps its own position, only the campaigns'
        and agents' events are read: the contacts are in that view, and loaded one by one as needed."""
        count = 0
        if self.position == 0 and not self.queue.replays_log:
            head = self.store.max_position()
            topics = tuple(cls.NAME for cls in (*CAMPAIGN_EVENTS, *AGENT_EVENTS))
            after = 0
            while True:
                page = [r for r in self.store.read(after, 5000, topics) if r.position <= head]
                if not page:
                    break
                self._ingest(page, observed=False)
                after = page[-1].position
                count += len(page)
            self.position = head
        while True:
            batch = self.store.read(self.position, 5000)
            if not batch:
                return count
            self._ingest(batch)
            count += len(batch)

    def _ingest(self, batch: Sequence[RecordedEvent], observed: bool = True) -> None:
        if observed:
            self.queue.observe(batch)
        for rec in batch:
            ev = rec.event
            self.position = rec.position
            sid = ev.originator_id
            if isinstance(ev, CAMPAIGN_EVENTS):
                c = self.campaigns.get(sid)
                if c is None:
                    c = self.campaigns[sid] = Campaign(id=sid)
                    self.estimators[sid] = PacingEstimator()
                if ev.originator_version > c.version:
                    c._fold(ev)
            elif isinstance(ev, AGENT_EVENTS):
                s = self.sessions.get(sid)
                if s is None:
                    s = self.sessions[sid] = AgentSession(id=sid)
                if ev.originator_version > s.version:
                    s._fold(ev)
                if isinstance(ev, AgentLoggedIn):
                    self.agents[ev.agent_id] = s
            else:
                cached = self.contacts.get(sid)
                if cached is not None and ev.originator_version > cached.version:
                    if ev.originator_version == cached.version + 1 and not cached.pending_events:
                        cached._fold(ev)
                    else:
                        del self.contacts[sid]
        for listener in self.listeners:
            listener(batch)

    def _hang_up(self, call_id: UUID, reason: str) -> None:
        self.uow.after_commit(partial(self.telephony.hang_up, call_id, reason))

    def _touch(self, agg: Aggregate) -> None:
        self.uow.touch(agg)

    def _in_step(self, body: Callable[[datetime], R], *, now: datetime | None = None, run_timers: bool = True) -> R:
        """Run one step: timers, ``body``, one atomic append, then the effects on the world. When
        the append is refused because another writer changed an aggregate first, the step is undone
        and run again on fresh aggregates (the same instant: a fact keeps its time). Any other
        failure undoes the step and is raised."""
        now = self._step() if now is None else now
        for attempt in range(1, STEP_ATTEMPTS + 1):
            self.uow.begin()
            try:
                if run_timers:
                    self._run_timers(now)
                result = body(now)
                self._commit()
                return result
            except ConcurrencyError:
                if not self.uow.open:
                    raise
                self._rollback()
                if attempt == STEP_ATTEMPTS:
                    raise
            except BaseException:
                if self.uow.open:
                    self._rollback()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _rollback(self) -> None:
        """Undo the open step: the engine's own state back as it was, the aggregates it changed
        reloaded from the store, and what other writers appended folded in."""
        ran_ahead = [s for s in self.sessions.values() if s.pending_events]
        changed = self.uow.rollback() + ran_ahead
        for a in changed:
            a.collect_events()
            if isinstance(a, AgentSession):
                self._reload_session(a)
            elif isinstance(a, PacingLog):
                for cid in [k for k, v in self.pacing_logs.items() if v is a]:
                    del self.pacing_logs[cid]
            else:
                self.contacts.pop(a.id, None)
        self.sync()

    def _reload_session(self, stale: AgentSession) -> None:
        fresh = self.repo.find(AgentSession, stale.id)
        if fresh is None:
            self.sessions.pop(stale.id, None)
        else:
            self.sessions[stale.id] = fresh
        for agent_id, s in list(self.agents.items()):
            if s is stale:
                if fresh is None:
                    del self.agents[agent_id]
                else:
                    self.agents[agent_id] = fresh

    def _commit(self) -> None:
        aggs, events, positions = self.uow.commit()  # refused: the caller undoes the step
        if events:
            for a in aggs:
                if isinstance(a, ContactAttempt) and a.state not in _LIVE_CONTACT_STATES:
                    self.contacts.pop(a.id, None)
            contiguous = positions and positions[0] == self.position + 1 and positions[-1] - positions[0] == len(positions) - 1
            if contiguous:
                self._ingest([RecordedEvent(p, e) for p, e in zip(positions, events, strict=True)])
            else:
                self.sync()
        self.uow.run_effects()

    def _step(self) -> datetime:
        self.now = self.clock.now()
        return self.now

    def contact(self, contact_id: UUID) -> ContactAttempt:
        c = self.contacts.get(contact_id)
        if c is None:
            c = self.contacts[contact_id] = self.repo.get(ContactAttempt, contact_id)
        return c

    def _forget_contact(self, contact_id: UUID) -> None:
        c = self.contacts.get(contact_id)
        if c is not None and not c.pending_events and not self.uow.touched(contact_id):
            del self.contacts[contact_id]

    def agent(self, agent_id: str) -> AgentSession:
        s = self.agents.get(agent_id)
        if s is None:
            raise NotFound(f"agent {agent_id!r} has never logged in")
        return s

    def campaign(self, campaign_id: UUID) -> Campaign:
        c = self.campaigns.get(campaign_id)
        if c is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        return c

    # ================================================================== timers

    def _estimator(self, campaign_id: UUID) -> PacingEstimator:
        """The campaign's measurements; their counters and tuning kept as they were before this
        step (the samples a step adds are taken back one by one, see ``_measure``)."""
        est = self.estimators[campaign_id]
        self._undo.keep_once(("estimator", campaign_id), est.scalars)
        return est

    def _measure(self, undo: Callable[[], None]) -> None:
        self._undo.add(undo)

    def _timer(self, at: datetime, kind: str, a: UUID | str, b: UUID | None = None) -> None:
        self.timers.add(at, kind, a, b)

    def next_due(self) -> datetime | None:
        return self.timers.next_due(self.now.tzinfo)

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
            elif kind == "ring":
                assert isinstance(a, UUID)
                call = self.calls.get(a)
                if call is not None and call.answered_at is None:
                    self._hang_up(a, "no answer within the maximum ring time")
                    self._finish_call(call, CallOutcome.NO_ANSWER, "no answer within the maximum ring time", now)

    # ================================================================== periodic work

    def tick(self) -> None:
        """Timers, the periodic queue top-up (R4) and pacing for every campaign."""
        def top_up(now: datetime) -> None:
            for c in self._by_priority():
                self._queue_run(c, now)

        now = self._step()
        self._in_step(top_up, now=now)  # what timers released and the queue run added is visible to pacing
        self._in_step(self._pace_all, now=now, run_timers=False)

    def _by_priority(self) -> list[Campaign]:
        return sorted((c for c in self.campaigns.values() if c.settings is not None), key=lambda c: (-c.priority, c.name))

    def _agents_for(self, c: Campaign) -> list[AgentSession]:
        skill = c.config.skill
        return [s for s in self.agents.values() if s.logged_in and skill in s.skills]

    def _queue_run(self, c: Campaign, now: datetime, force: bool = False) -> None:
        t = now.timestamp()
        last = self._last_queue_run.get(c.id)
        if not force and last is not None and t - last < self.config.queue_every_seconds:
            return
        self._undo.put(self._last_queue_run, c.id, t)
        if not c.is_active(now) and self.queue.queued_count(c.id) > 0:
            why = "campaign disabled" if c.status.value == "disabled" else "campaign outside its hours"
            for cid in self.queue.queued(c.id):
                contact = self.contact(cid)
                if contact.state is ContactState.QUEUED:  # the aggregate decides; the view may lag
                    contact.return_to_list(why, now)
                    self._touch(contact)
                else:
                    self._forget_contact(cid)
            return
        if not c.may_dial(now):
            return
        target = queue_target(len(self._agents_for(c)))
        if target == 0:
            return
        need = target - self.queue.queued_count(c.id)
        if need <= 0:
            return
        for cid in self.queue.take_due(c.id, now, need, agent_owned=c.dial_mode is DialMode.AUTO):
            contact = self.contact(cid)
            try:
                contact.queue(now)
            except NotAllowed:
                self._forget_contact(cid)
                continue
            self._touch(contact)

    def _pace_all(self, now: datetime) -> None:
        claimed: set[str] = set()
        for c in self._by_priority():
            if not c.may_dial(now):
                continue
            if c.dial_mode.agent_first:
                self._pace_agent_first(c, now, claimed)
            else:
                self._pace_contact_first(c, now, claimed)

    def _log_decision(self, c: Campaign, now: datetime, **fields: object) -> UUID:
        day = (local_time(c.hours, now) if c.hours else now).date().isoformat()
        log_id = pacing_log_id_for(c.id, day)
        log = self.pacing_logs.get(c.id)
        if log is None or log.id != log_id:
            found = self.repo.find(PacingLog, log_id)
            log = found if found is not None else PacingLog(id=log_id)
            self.pacing_logs[c.id] = log
        decision_id = self.ids()
        log.record(now, campaign_id=c.id, decision_id=decision_id, dial_mode=c.dial_mode, **fields)
        self._touch(log)
        return decision_id

    def _pace_contact_first(self, c: Campaign, now: datetime, claimed: set[str]) -> None:
        agents = self._agents_for(c)
        ready = sorted((s for s in agents if s.state is AgentState.READY and s.agent_id not in claimed), key=_idle_since)
        dialling = [call for call in self.calls.values() if call.campaign_id == c.id and call.answered_at is None]
        waiting = sum(1 for call in self.waiting.values() if call.campaign_id == c.id)
        snap = PacingSnapshot(
            ready_agents=len(ready),
            wrapup_elapsed=tuple(_since(s, now) for s in agents if s.state is AgentState.WRAP_UP),
            talking_elapsed=tuple(_since(s, now) for s in agents if s.state is AgentState.TALKING),
            dialling_elapsed=tuple((now - call.dialled_at).total_seconds() for call in dialling),
            answered_waiting=waiting,
            logged_in=len(agents),
            queued_contacts=self.queue.queued_count(c.id),
        )
        # Nobody ready: progressive waits; power and predictive may still dial for agents about to free.
        if snap.ready_agents == 0 and (c.dial_mode is DialMode.PROGRESSIVE or not (snap.wrapup_elapsed or snap.talking_elapsed)):
            return
        decision = decide(c.dial_mode, c.config, snap, self._estimator(c.id))
        in_flight = len(dialling) + waiting
        for s in ready[: in_flight + decision.calls]:
            claimed.add(s.agent_id)
        if decision.calls <= 0:
            if snap.queued_contacts == 0 and snap.ready_agents > 0:
                self._queue_run(c, now, force=self._last_queue_run.get(c.id, 0.0) + 5 <= now.timestamp())
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
        while placed < decision.calls:
            cid = self.queue.next_queued(c.id, exclude=frozenset(tried))
            if cid is None:
                break
            tried.add(cid)
            contact = self.contact(cid)
            if contact.state is not ContactState.QUEUED:  # a view that lags: the aggregate says no
                self._forget_contact(cid)
                continue
            if self._dial(c, contact, now, decision_id=decision_id, agent_id=None, offer_id=None):
                placed += 1

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
            while True:
                cid = self.queue.next_queued(c.id, s.agent_id if c.dial_mode is DialMode.AUTO else None, frozenset(taken))
                if cid is None:
                    break
                taken.add(cid)
                if self.contact(cid).state is ContactState.QUEUED:  # a view that lags: the aggregate decides
                    offers.append((s, cid))
                    break
                self._forget_contact(cid)
        if not offers:
            if self.queue.queued_count(c.id) == 0:
                self._queue_run(c, now, force=self._last_queue_run.get(c.id, 0.0) + 5 <= now.timestamp())
            return
        decision_id = self._log_decision(
            c,
            now,
            ready_agents=len(ready),
            agents_in_wrapup=sum(1 for s in agents if s.state is AgentState.WRAP_UP),
            agents_talking=sum(1 for s in agents if s.state is AgentState.TALKING),
            calls_in_flight=sum(1 for call in self.calls.values() if call.campaign_id == c.id),
            answered_waiting=0,
            estimates={},
            target_abandon_rate=c.config.target_abandon_rate,
            calls_to_place=len(offers),
            reason=f"{c.dial_mode.value}: {len(ready)} ready agents, offering {len(offers)} contacts agent-first",
        )
        expires = now + timedelta(seconds=c.config.preview_timeout_seconds)
        for s, cid in offers:
            contact = self.contact(cid)
            auth = authorise_dial(DialContext(c, contact, now), self.rules)
            if not auth.allowed:
                contact.return_to_list("; ".join(auth.reasons), now)
                self._touch(contact)
                continue
            offer_id = self.ids()
            s.offer(offer_id=offer_id, campaign_id=c.id, contact_id=cid, expires_at=expires, at=now)
            contact.offer(s.agent_id, offer_id, now)
            self._touch(s)
            self._touch(contact)
            claimed.add(s.agent_id)
            self._undo.put(self.offer_decisions, offer_id, decision_id)
            self._timer(expires, "offer", s.agent_id, offer_id)
            pop = _pop(c, contact)
            auto = c.config.auto_answer
            self.uow.after_commit(partial(self.desktop.offered, s.agent_id, offer_id, pop, expires, auto))

    def _dial(
        self,
        c: Campaign,
        contact: ContactAttempt,
        now: datetime,
        *,
        decision_id: UUID | None,
        agent_id: str | None,
        offer_id: UUID | None,
    ) -> bool:
        auth = authorise_dial(DialContext(c, contact, now), self.rules)
        if not auth.allowed:
            if contact.state is ContactState.QUEUED:
                contact.return_to_list("; ".join(auth.reasons), now)
                self._touch(contact)
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
        )
        self._touch(contact)
        self._undo.put(self.calls, call_id, LiveCall(call_id, c.id, contact.id, now, agent_id=agent_id, offer_id=offer_id))
        self._timer(now + timedelta(seconds=c.config.max_ring_seconds + self.config.ring_backstop_seconds), "ring", call_id)
        cfg = c.config
        self.uow.after_commit(
            lambda: self.telephony.place_call(
                call_id=call_id,
                number=dialled.number,
                caller_id_number=cfg.caller_id_number,
                caller_id_name=cfg.caller_id_name,
                max_ring_seconds=cfg.max_ring_seconds,
                max_call_seconds=cfg.max_call_seconds,
            )
        )
        return True

    # ================================================================== call progress (telephony -> engine)

    def on_call_progress(self, call_id: UUID, progress: CallOutcome) -> None:
        def step(now: datetime) -> None:
            call = self.calls.get(call_id)
            if call is None or call.answered_at is not None:
                return
            contact = self.contact(call.contact_id)
            c = self.campaign(call.campaign_id)
            est = self._estimator(c.id)
            elapsed = (now - call.dialled_at).total_seconds()
            contact.progress(call_id, progress, now)
            self._touch(contact)
            if progress is CallOutcome.ANSWERED_HUMAN:
                self._undo.set(call, answered_at=now)
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
        skill = c.config.skill
        best: AgentSession | None = None
        for s in self.agents.values():
            if s.state is AgentState.READY and skill in s.skills and (best is None or _idle_since(s) < _idle_since(best)):
                best = s
        return best

    def _connect(self, call: LiveCall, s: AgentSession, now: datetime) -> None:
        c = self.campaign(call.campaign_id)
        contact = self.contact(call.contact_id)
        contact.connect(call.call_id, s.agent_id, now)
        s.connect(call_id=call.call_id, campaign_id=c.id, contact_id=contact.id, at=now)
        self._touch(contact)
        self._touch(s)
        self._undo.set(call, connected=True, agent_id=s.agent_id, waiting=False)
        self._undo.pop(self.waiting, call.call_id)
        self._estimator(c.id).record_answer(abandoned=False)
        self._timer(now + timedelta(seconds=c.config.max_call_seconds), "maxdur", call.call_id)
        pop = _pop(c, contact)
        cid, aid = call.call_id, s.agent_id
        self.uow.after_commit(lambda: self.telephony.connect_agent(call_id=cid, agent_id=aid))
        self.uow.after_commit(lambda: self.desktop.connected(aid, cid, pop))

    def _abandon(self, call: LiveCall, reason: str, now: datetime, hang_up: bool = True) -> None:
        contact = self.contact(call.contact_id)
        contact.abandon(call.call_id, reason, now)
        self._touch(contact)
        self._undo.pop(self.waiting, call.call_id)
        self._undo.set(call, waiting=False)
        self._estimator(call.campaign_id).record_answer(abandoned=True)
        if hang_up:
            cid = call.call_id
            self._hang_up(cid, "abandoned: no agent free")
        self._finish_call(call, CallOutcome.ABANDONED, reason, now)

    def _finish_call(self, call: LiveCall, outcome: CallOutcome, reason: str, now: datetime) -> None:
        self._undo.pop(self.calls, call.call_id)
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
                self._timer(s.wrapup_until, "wrapup", s.agent_id)
                until, aid, cid = s.wrapup_until, s.agent_id, call.call_id
                self.uow.after_commit(lambda: self.desktop.wrapup_started(aid, cid, until))
            self._measure(self._estimator(c.id).talk.add(ended.talk_seconds))
        elif call.agent_id is not None and call.offer_id is not None:
            s = self.agent(call.agent_id)
            if s.state is AgentState.RESERVED and s.offer_id == call.offer_id:
                s.decline_offer(call.offer_id, f"contact not reached: {ended.outcome.value}", now)
                self._touch(s)

    # ================================================================== agents (desktop -> engine)

    def log_in(self, agent_id: str, *, name: str = "", skills: Sequence[str]) -> AgentSession:

        def step(now: datetime) -> AgentSession:
            current = self.agents.get(agent_id)
            if current is not None and current.logged_in:
                raise NotAllowed(f"agent {agent_id} is already logged in")
            sid = agent_session_id_for(agent_id, now.date().isoformat())
            s = self.sessions.get(sid) or AgentSession(id=sid)
            s.log_in(agent_id, name=name or agent_id, skills=tuple(skills), at=now)
            self._touch(s)
            return s

        self._in_step(step, run_timers=False)
        return self.agent(agent_id)

    def ready(self, agent_id: str) -> None:
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            self._record_wrapup(s, now)
            s.ready(now)
            self._touch(s)
            self._agent_became_ready(s, now)
            self._pace_all(now)

        self._in_step(step)

    def _record_wrapup(self, s: AgentSession, now: datetime) -> None:
        """Measured wrap-up lengths feed predictive pacing (call before readying the agent)."""
        if s.state is AgentState.WRAP_UP and s.call_campaign in self.estimators:
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

    def extend_wrapup(self, agent_id: str, seconds: float) -> None:
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            s.extend_wrapup(seconds, now)
            self._touch(s)

        self._in_step(step, run_timers=False)

    def dispose(self, agent_id: str, code: str, note: str = "", callback_at: datetime | None = None) -> None:
        """The agent's wrap-up code for their last call (R18), and optionally a callback (R12)."""
        def step(now: datetime) -> None:
            s = self.agent(agent_id)
            if s.call_contact is None or s.call_campaign is None:
                raise NotAllowed(f"agent {agent_id} has had no call to dispose")
            if s.state is AgentState.TALKING:
                raise NotAllowed(f"agent {agent_id} is still talking; dispose in wrap-up")
            c = self.campaign(s.call_campaign)
            contact = self.contact(s.call_contact)
            contact.record_disposition(s.call_id, code, agent_id=agent_id, note=note, settings=c.config, at=now)
            if callback_at is not None:
                contact.schedule_callback(callback_at, agent_id=agent_id, by=f"agent {agent_id}", now=now)
            self._touch(contact)

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


def _since(s: AgentSession, now: datetime) -> float:
    return (now - s.state_since).total_seconds() if s.state_since else 0.0


def _idle_since(s: AgentSession) -> float:
    return s.state_since.timestamp() if s.state_since else 0.0


def _pop(c: Campaign, contact: ContactAttempt) -> ScreenPop:
    return ScreenPop(
        campaign_id=c.id,
        contact_id=contact.id,
        key=contact.key,
        data=contact.data,
        numbers=tuple(n.e164 for n in contact.numbers),
        attempts=contact.attempts,
    )
