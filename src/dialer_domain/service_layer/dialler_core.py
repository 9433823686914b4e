"""The dialler's core: ports, folds of the log, the unit of work, timers, and how one step runs
(read the clock once, change aggregates, one atomic append, then act on the world)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar
from uuid import UUID

import attrs

from dialer_domain.model.agent import AgentSession
from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import ConcurrencyError
from dialer_domain.model.pacing_log import PacingLog
from dialer_domain.model.values import AgentState, ContactState, OpeningHours
from dialer_domain.rules.authorisation import DEFAULT_RULES, Rule
from dialer_domain.rules.compliance import RecentRefusals
from dialer_domain.rules.pacing_estimates import PacingEstimator
from dialer_domain.service_layer.call_reports import ReportGate
from dialer_domain.service_layer.folds import LogFolds
from dialer_domain.service_layer.live_queue import LiveQueue
from dialer_domain.service_layer.ports import (
    AgentDesktop,
    CalleeCalendar,
    Clock,
    DoNotCall,
    EventStore,
    IdFactory,
    NoCalendar,
    NoDesktop,
    NoLists,
    QueueView,
    ScreenPop,
    Telephony,
)
from dialer_domain.service_layer.repository import Repository
from dialer_domain.service_layer.timers import Timers
from dialer_domain.service_layer.unit_of_work import UnitOfWork

R = TypeVar("R")

#: How often a step is run again on fresh aggregates when another writer changed one first.
STEP_ATTEMPTS = 8

_LIVE_CONTACT_STATES = frozenset({ContactState.QUEUED, ContactState.OFFERED, ContactState.DIALLING, ContactState.CONNECTED})
#: An agent in these states has a call's contact in hand (the call, then its wrap-up): the engine
#: keeps that contact after the call ends, for the disposition the agent records next.
_HOLDING_A_CONTACT = frozenset({AgentState.TALKING, AgentState.WRAP_UP})


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


#: the automatic pacing interval (EngineConfig.pace_every_seconds None): from this many agents logged in ...
AUTO_PACE_AGENTS = 100
#: ... power and predictive campaigns are paced at most this often (ADR 0026)
AUTO_PACE_SECONDS = 0.5


@attrs.define
class PacingClock:
    """When the dialler last paced its power and predictive campaigns, and whether a "pace" timer
    is set for the events since (``EngineConfig.pace_every_seconds``)."""

    paced_at: float = -1e18
    timer_set: bool = False


@attrs.frozen
class EngineConfig:
    abandon_after_seconds: float = 2.0
    queue_every_seconds: float = 60.0
    tick_seconds: float = 1.0
    ring_backstop_seconds: float = 10.0
    auto_ready_after_wrapup: bool = True
    #: pacing of power and predictive campaigns runs after every event that may change it (0), or
    #: at most once in so many seconds: events in between are taken up by a "pace" timer (ADR 0026).
    #: None: 0 while fewer than AUTO_PACE_AGENTS agents are logged in, else AUTO_PACE_SECONDS
    pace_every_seconds: float | None = None


class DiallerCore:
    """What every part of the dialler shares: its ports, its folds of the log (campaigns, agent
    sessions, cached contacts, the queue view), its unit of work and timers, and how one step runs."""

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
        calendar: CalleeCalendar | None = None,
        do_not_call: DoNotCall | None = None,
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
        self.calendar: CalleeCalendar = calendar if calendar is not None else NoCalendar()
        self.do_not_call: DoNotCall = do_not_call if do_not_call is not None else NoLists()
        self.folds = LogFolds(store, self.repo, self.queue, clock.now)
        # the folds' own dicts, by their names (shared, never rebound)
        self.campaigns = self.folds.campaigns
        self.sessions = self.folds.sessions
        self.agents = self.folds.agents
        self.contacts = self.folds.contacts
        self.estimators = self.folds.estimators
        self.listeners = self.folds.listeners
        self.calls: dict[UUID, LiveCall] = {}
        self.waiting: dict[UUID, LiveCall] = {}
        self.pacing_logs: dict[UUID, PacingLog] = {}
        self._pacing_days: dict[UUID, tuple[datetime, datetime, OpeningHours | None, UUID]] = {}  # from, until, hours, pacing log id
        self.offer_decisions: dict[UUID, UUID] = {}
        self._last_queue_run: dict[UUID, float] = {}
        self._callback_alarm: dict[UUID, datetime] = {}  # per campaign, the appointment the dialler is set to wake at (R12)
        self.report_gate = ReportGate()
        self.refusals = RecentRefusals()  # dials refused, by rule, for the supervisors' view
        self.draining = False  # a service that is stopping places no new calls
        self._batch_at: datetime | None = None  # the instant of the batch of reports being run as one step, if any
        self._pace_after_batch = False  # a report of the batch asked for pacing
        self.legs: dict[str, str] = {}  # agent -> the address of the leg held for the session
        self.uow = UnitOfWork(store)
        self._undo = self.uow.undo
        self.timers = Timers(self._undo)
        self.pacing = PacingClock()
        self.now = clock.now()

    # ================================================================== views and commits

    def sync(self) -> int:
        """Fold what was appended since the folds' position (see ``LogFolds.sync``)."""
        return self.folds.sync()

    def _hang_up(self, call_id: UUID, reason: str) -> None:
        self.uow.after_commit(partial(self.telephony.hang_up, call_id, reason))

    def _touch(self, agg: Aggregate) -> None:
        self.uow.touch(agg)

    def _in_step(self, body: Callable[[datetime], R], *, now: datetime | None = None, run_timers: bool = True) -> R:
        """Run one step: timers, ``body``, one atomic append, then the effects on the world. When
        the append is refused because another writer changed an aggregate first, the step is undone
        and run again on fresh aggregates (the same instant: a fact keeps its time). Any other
        failure undoes the step and is raised. Inside a batch (``Dialler.on_reports``) the step
        joins the batch's: the same instant, and the batch's one append."""
        if self._batch_at is not None:
            return body(self._batch_at)
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
                self.folds.reload_session(a)
            elif isinstance(a, PacingLog):
                for cid in [k for k, v in self.pacing_logs.items() if v is a]:
                    del self.pacing_logs[cid]
            else:
                self.contacts.pop(a.id, None)
        self.sync()

    def _commit(self) -> None:
        aggs, events, positions = self.uow.commit()  # refused: the caller undoes the step
        if events:
            self._forget_finished(aggs)
            self.folds.committed(positions, events)
        self.uow.run_effects()

    def _forget_finished(self, aggs: Sequence[Aggregate]) -> None:
        """The contacts of the step with no call in progress leave the engine's memory (a list of a
        million is never all held), but not one whose call an agent of the step is wrapping up:
        its disposition comes next, and would load it again from the log. It goes when its agent
        moves on (ready, paused, logged out) without one, in that step."""
        held = {a.call_contact for a in aggs if isinstance(a, AgentSession) and a.state in _HOLDING_A_CONTACT}
        for a in aggs:
            if isinstance(a, ContactAttempt):
                if a.state not in _LIVE_CONTACT_STATES and a.id not in held:
                    self.contacts.pop(a.id, None)
            elif isinstance(a, AgentSession) and a.call_contact is not None and a.state not in _HOLDING_A_CONTACT:
                kept = self.contacts.get(a.call_contact)
                if kept is not None and kept.state not in _LIVE_CONTACT_STATES:
                    self.contacts.pop(a.call_contact)

    def _step(self) -> datetime:
        self.now = self.clock.now()
        return self.now

    def contact(self, contact_id: UUID) -> ContactAttempt:
        return self.folds.contact(contact_id)

    def _forget_contact(self, contact_id: UUID) -> None:
        c = self.contacts.get(contact_id)
        if c is not None and not c.pending_events and not self.uow.touched(contact_id):
            del self.contacts[contact_id]

    def agent(self, agent_id: str) -> AgentSession:
        return self.folds.agent(agent_id)

    def campaign(self, campaign_id: UUID) -> Campaign:
        return self.folds.campaign(campaign_id)

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

    def _cancel_timer(self, kind: str, a: UUID | str) -> None:
        """The reason for the ``kind`` timers of ``a`` is gone: they do not wake the world (ADR 0032)."""
        self.timers.cancel(kind, a)

    def next_due(self) -> datetime | None:
        return self.timers.next_due(self.now.tzinfo)

    def _run_timers(self, now: datetime) -> None:
        """Run the timers due by ``now`` (the dialler's own kinds: see ``engine.Dialler``)."""
        raise NotImplementedError


def _since(s: AgentSession, now: datetime) -> float:
    return (now - s.state_since).total_seconds() if s.state_since else 0.0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _idle_since(s: AgentSession) -> datetime:
    """Since when the agent is in their state (the longest idle first): compared as it is, the
    order of its epoch seconds, without working them out for each agent at each look."""
    return s.state_since or _EPOCH


def screen_pop(c: Campaign, contact: ContactAttempt) -> ScreenPop:
    return ScreenPop(
        campaign_id=c.id,
        contact_id=contact.id,
        key=contact.key,
        data=contact.data,
        numbers=tuple(n.e164 for n in contact.numbers),
        attempts=contact.attempts,
        guide=c.call_guide,
    )
