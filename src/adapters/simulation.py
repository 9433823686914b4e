"""A simulated world on a virtual clock (simpy): fake telephony, simulated agents, and the runner
that drives the *same* engine, event store and statistics fold through a whole campaign day.

Every random draw comes from one seeded generator, so a seed gives the same day every time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import attrs
import simpy

from dialer_domain.engine import Dialler, EngineConfig
from dialer_domain.ports import EventStore, QueueView, ScreenPop, campaign_id_for, seeded_ids
from dialer_domain.repository import iter_log
from dialer_domain.rules.statistics import StatisticsFold
from dialer_domain.services import CampaignSpec, add_contacts, create_campaign, set_campaign_status
from dialer_domain.values import (
    DEFAULT_DISPOSITIONS,
    AgentState,
    CallOutcome,
    CampaignSettings,
    CampaignStatus,
    ContactData,
    DialMode,
    OpeningHours,
    Period,
    PhoneNumber,
)


@attrs.frozen(kw_only=True)
class WorldParams:
    """The called population and the agents (defaults: the pacing benchmark's scenario)."""

    p_human: float = 0.25
    p_machine: float = 0.15
    p_busy: float = 0.05
    p_unreachable: float = 0.05
    human_answer_median: float = 9.0
    human_answer_sigma: float = 0.45
    human_answer_min: float = 2.0
    human_answer_max: float = 25.0
    machine_answer_median: float = 15.0
    machine_answer_sigma: float = 0.3
    busy_after: float = 3.0
    unreachable_after: float = 4.0
    machine_detect_after: float = 3.5
    talk_mean: float = 120.0
    talk_sd: float = 120.0
    wrap_mean: float = 15.0
    wrap_sd: float = 7.5
    preview_seconds: float = 10.0
    p_callback: float = 0.03
    p_sale: float = 0.2

    def __attrs_post_init__(self) -> None:
        total = self.p_human + self.p_machine + self.p_busy + self.p_unreachable
        if not 0 <= total <= 1:
            raise ValueError(f"answer probabilities add up to {total:.2f}; they must stay within 0..1")


def _lognormal_from_mean_sd(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


class VirtualClock:
    """The Clock port on simulated time."""

    def __init__(self, env: simpy.Environment, start: datetime) -> None:
        self.env = env
        self.start = start

    def now(self) -> datetime:
        return self.start + timedelta(seconds=float(self.env.now))


class SimulatedTelephony:
    """The Telephony port as a seeded world: each call rings, then is answered by a human or a
    machine, is busy, unreachable or not answered; connected calls last a sampled talk time."""

    def __init__(self, env: simpy.Environment, rng: random.Random, params: WorldParams) -> None:
        self.env = env
        self.rng = rng
        self.p = params
        self.engine: Dialler | None = None
        self.driver: SimulationDriver | None = None
        self._procs: dict[UUID, simpy.Process] = {}
        self._talk: dict[UUID, float] = {}

    def place_call(
        self,
        *,
        call_id: UUID,
        number: str,
        caller_id_number: str,
        caller_id_name: str,
        max_ring_seconds: int,
        max_call_seconds: int,
    ) -> None:
        self._procs[call_id] = self.env.process(self._call(call_id, max_ring_seconds))

    def connect_agent(self, *, call_id: UUID, agent_id: str) -> None:
        talk = self._talk.pop(call_id, None)
        if talk is None:
            talk = _lognormal_from_mean_sd(self.rng, self.p.talk_mean, self.p.talk_sd)
        self._procs[call_id] = self.env.process(self._talking(call_id, talk))

    def hang_up(self, call_id: UUID, reason: str) -> None:
        proc = self._procs.pop(call_id, None)
        self._talk.pop(call_id, None)
        if proc is not None and proc.is_alive and proc is not self.env.active_process:
            proc.interrupt(reason)

    def _report(self, fn: Callable[[], None]) -> None:
        assert self.driver is not None
        self.driver.call(fn)

    def _call(self, call_id: UUID, max_ring: int) -> Generator[simpy.Event, Any, None]:
        p, rng = self.p, self.rng
        u = rng.random()
        # Draw the talk time now too, so that the stream of draws does not depend on pacing order.
        self._talk[call_id] = _lognormal_from_mean_sd(rng, p.talk_mean, p.talk_sd)
        engine = self.engine
        assert engine is not None
        try:
            if u < p.p_busy:
                yield self.env.timeout(p.busy_after)
                self._end(call_id, CallOutcome.BUSY, "busy")
                return
            if u < p.p_busy + p.p_unreachable:
                yield self.env.timeout(p.unreachable_after)
                self._end(call_id, CallOutcome.FAILED, "unreachable")
                return
            yield self.env.timeout(1.0)
            self._report(lambda: engine.on_call_progress(call_id, CallOutcome.RINGING))
            if u < p.p_busy + p.p_unreachable + p.p_human:
                t = rng.lognormvariate(math.log(p.human_answer_median), p.human_answer_sigma)
                t = min(p.human_answer_max, max(p.human_answer_min, t))
                if t < max_ring:
                    yield self.env.timeout(max(0.0, t - 1.0))
                    self._procs.pop(call_id, None)
                    self._report(lambda: engine.on_call_progress(call_id, CallOutcome.ANSWERED_HUMAN))
                    return
            elif u < p.p_busy + p.p_unreachable + p.p_human + p.p_machine:
                t = rng.lognormvariate(math.log(p.machine_answer_median), p.machine_answer_sigma)
                if t < max_ring:
                    yield self.env.timeout(max(0.0, t - 1.0) + p.machine_detect_after)
                    self._procs.pop(call_id, None)
                    self._report(lambda: engine.on_call_progress(call_id, CallOutcome.ANSWERED_MACHINE))
                    return
            yield self.env.timeout(max_ring - 1.0)
            self._end(call_id, CallOutcome.NO_ANSWER, "no answer")
        except simpy.Interrupt:
            return

    def _talking(self, call_id: UUID, talk: float) -> Generator[simpy.Event, Any, None]:
        try:
            yield self.env.timeout(talk)
        except simpy.Interrupt:
            return
        self._end(call_id, CallOutcome.COMPLETED, "contact hung up")

    def _end(self, call_id: UUID, outcome: CallOutcome, reason: str) -> None:
        self._procs.pop(call_id, None)
        self._talk.pop(call_id, None)
        engine = self.engine
        assert engine is not None
        self._report(lambda: engine.on_call_ended(call_id, outcome, reason))


class SimulatedAgents:
    """The AgentDesktop port played by simulated agents: they accept offers (after a preview, or
    at once with auto-answer), talk, take a sampled wrap-up, dispose, sometimes book a callback,
    and click Ready."""

    def __init__(self, env: simpy.Environment, rng: random.Random, params: WorldParams, dispositions: tuple[str, ...]) -> None:
        self.env = env
        self.rng = rng
        self.p = params
        self.dispositions = dispositions
        self.engine: Dialler | None = None
        self.driver: SimulationDriver | None = None
        self.stopping = False

    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        assert self.engine is not None
        mode = self.engine.campaign(pop.campaign_id).dial_mode
        delay = self.p.preview_seconds if mode is DialMode.PREVIEW else (0.5 if auto_answer else 3.0)
        self.env.process(self._later(delay, lambda: self._accept(agent_id, offer_id)))

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None:
        pass

    def wrapup_started(self, agent_id: str, call_id: UUID, until: datetime) -> None:
        wrap = _lognormal_from_mean_sd(self.rng, self.p.wrap_mean, self.p.wrap_sd)
        u = self.rng.random()
        self.env.process(self._later(wrap, lambda: self._finish_wrapup(agent_id, u)))

    def _later(self, delay: float, fn: Callable[[], None]) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay)
        assert self.driver is not None
        self.driver.call(fn)

    def _accept(self, agent_id: str, offer_id: UUID) -> None:
        assert self.engine is not None
        s = self.engine.agent(agent_id)
        if s.offer_id == offer_id and s.state is AgentState.OFFERED:
            self.engine.accept_offer(agent_id, offer_id)

    def _finish_wrapup(self, agent_id: str, u: float) -> None:
        engine = self.engine
        assert engine is not None
        s = engine.agent(agent_id)
        if s.state is not AgentState.WRAP_UP:
            return
        callback_at = None
        if u < self.p.p_callback:
            code = "callback"
            callback_at = engine.clock.now() + timedelta(minutes=30 + int(u * 3000) % 90)
        elif u < self.p.p_callback + self.p.p_sale:
            code = "sale"
        else:
            code = "not_interested"
        if code not in self.dispositions:
            code = "sale"
        engine.dispose(agent_id, code, callback_at=callback_at)
        if self.stopping:
            engine.log_out(agent_id, by="simulation: end of day")
        else:
            engine.ready(agent_id)


class SimulationDriver:
    """Runs engine calls on simulated time and wakes the engine at its next timer."""

    def __init__(self, env: simpy.Environment, engine: Dialler) -> None:
        self.env = env
        self.engine = engine
        self._armed: float | None = None

    def call(self, fn: Callable[[], object]) -> None:
        fn()
        self.arm()

    def arm(self) -> None:
        due = self.engine.next_due()
        if due is None:
            return
        at = max(float(self.env.now), (due - self.engine.clock.now()).total_seconds() + float(self.env.now))
        if self._armed is not None and self._armed <= at and self._armed >= float(self.env.now):
            return
        self._armed = at
        self.env.process(self._wake(at))

    def _wake(self, at: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at - float(self.env.now))
        if self._armed == at:
            self._armed = None
        self.engine.tick()
        self.arm()

    def ticking(self, every: float, until: float) -> Generator[simpy.Event, Any, None]:
        while float(self.env.now) < until:
            self.call(self.engine.tick)
            yield self.env.timeout(every)


@attrs.frozen(kw_only=True)
class SimulationConfig:
    mode: DialMode = DialMode.PREDICTIVE
    agents: int = 10
    contacts: int = 3000
    hours: float = 8.0
    warmup_minutes: float = 0.0
    seed: int = 1
    day: str = "2026-11-23"
    time_zone: str = "Europe/Copenhagen"
    opens_at: str = "09:00"
    world: WorldParams = WorldParams()
    power_ratio_ready: float = 1.7
    power_ratio_wrapup: float = 0.1
    target_abandon_rate: float = 0.03
    wrapup_seconds: int = 120
    max_ring_seconds: int = 25
    attempts_per_number: int = 3
    min_redial_seconds: int = 3600
    campaign_name: str | None = None


@attrs.frozen
class SimulationResult:
    campaign_id: UUID
    campaign_name: str
    summary: dict[str, Any]
    events: int  # recorded by this run
    started: datetime
    ended: datetime


def run_simulation(
    store: EventStore, cfg: SimulationConfig, progress: Callable[[float], None] | None = None, queue: QueueView | None = None
) -> SimulationResult:
    """One simulated day. ``queue`` is the engine's queue view (the persisted one on SQLite and
    PostgreSQL); without it the engine folds the queue in memory."""
    if cfg.agents < 1 or cfg.contacts < 1 or cfg.hours <= 0:
        raise ValueError(f"a simulated day needs agents, contacts and hours above zero, not {cfg.agents}, {cfg.contacts} and {cfg.hours:g}")
    first_position = store.max_position()  # what this run records comes after
    rng = random.Random(cfg.seed)
    env = simpy.Environment()
    h, m = (int(x) for x in cfg.opens_at.split(":"))
    from dialer_domain.schedule import zone

    start_local = datetime.combine(datetime.fromisoformat(cfg.day).date(), time(h, m), zone(cfg.time_zone))
    start = start_local.astimezone(UTC)
    clock = VirtualClock(env, start)
    total = cfg.warmup_minutes * 60 + cfg.hours * 3600
    dispositions = (*DEFAULT_DISPOSITIONS, "not_interested", "callback")
    telephony = SimulatedTelephony(env, random.Random(rng.getrandbits(64)), cfg.world)
    agents_world = SimulatedAgents(env, random.Random(rng.getrandbits(64)), cfg.world, dispositions)
    engine = Dialler(store, telephony, clock, seeded_ids(cfg.seed), desktop=agents_world, config=EngineConfig(), queue=queue)
    engine.sync()
    telephony.engine = agents_world.engine = engine
    driver = SimulationDriver(env, engine)
    telephony.driver = agents_world.driver = driver

    existing = sum(1 for c in engine.campaigns.values() if c.name.startswith(f"Simulated {cfg.mode.value} {cfg.day}"))
    name = cfg.campaign_name or f"Simulated {cfg.mode.value} {cfg.day} #{existing + 1} seed {cfg.seed}"
    skill = f"sim-{cfg.mode.value}"
    end_local = start_local + timedelta(seconds=total)
    if end_local.date() == start_local.date():
        periods: tuple[Period, ...] = (Period(start_local.time(), end_local.time()),)
    else:  # the day runs past midnight: open from the start to midnight and from midnight to the end
        periods = (Period(time(0), end_local.time()), Period(start_local.time(), time(23, 59, 59, 999999)))
    hours = OpeningHours(cfg.time_zone, {d: periods for d in range(7)})
    settings = CampaignSettings(
        skill=skill,
        max_ring_seconds=cfg.max_ring_seconds,
        attempts_per_number=cfg.attempts_per_number,
        min_redial_seconds=cfg.min_redial_seconds,
        wrapup_seconds=cfg.wrapup_seconds,
        power_ratio_ready=cfg.power_ratio_ready,
        power_ratio_wrapup=cfg.power_ratio_wrapup,
        target_abandon_rate=cfg.target_abandon_rate,
        preview_timeout_seconds=int(cfg.world.preview_seconds) + 5,
        caller_id_number="+4570000000",
        caller_id_name="Simulated",
        dispositions=dispositions,
    )
    create_campaign(
        engine.repo,
        CampaignSpec(name=name, description="simulated campaign day", manager="simulation", priority=5, dial_mode=cfg.mode),
        settings=settings,
        hours=hours,
        at=start,
    )
    cid = campaign_id_for(name)
    agent_ids = [f"{skill}-{cfg.seed}-{existing + 1}-agent-{i + 1:02d}" for i in range(cfg.agents)]
    rows = []
    for i in range(cfg.contacts):
        assigned = agent_ids[i % len(agent_ids)] if cfg.mode is DialMode.AUTO else None
        numbers: tuple[PhoneNumber, ...] = (PhoneNumber(f"+453{rng.randrange(10**7):07d}"),)
        if rng.random() < 0.3:
            numbers = (*numbers, PhoneNumber(f"+452{rng.randrange(10**7):07d}"))
        rows.append((f"c{i + 1:07d}", numbers, ContactData(name=f"Contact {i + 1}", fields={"segment": "sim"}), 5, assigned))
    add_contacts(engine.repo, cid, rows, source="simulation", at=start)
    set_campaign_status(engine.repo, cid, CampaignStatus.AUTOMATIC, by="simulation", at=start)
    engine.sync()
    for a in agent_ids:
        engine.log_in(a, skills=(skill,))
        engine.ready(a)
    env.process(driver.ticking(EngineConfig().tick_seconds, total))

    def reporter() -> Generator[simpy.Event, Any, None]:
        while float(env.now) < total:
            yield env.timeout(min(600.0, total))
            if progress is not None:
                progress(min(1.0, float(env.now) / total))

    env.process(reporter())
    env.run(until=total)
    # End of day: stop placing calls, let calls in progress finish, then log everyone out.
    agents_world.stopping = True
    end_at = clock.now()
    driver.call(lambda: set_campaign_status(engine.repo, cid, CampaignStatus.DISABLED, by="simulation: end of day", at=clock.now()))
    driver.call(engine.sync)
    env.run(until=total + 4 * 3600)
    for a in agent_ids:
        s = engine.agent(a)
        if s.logged_in and s.state is not AgentState.TALKING:
            driver.call(partial(engine.log_out, a, by="simulation: end of day"))
    driver.call(engine.tick)
    window = (start + timedelta(minutes=cfg.warmup_minutes), end_at)
    fold = StatisticsFold(window=window)
    events = 0
    for rec in iter_log(store, after=first_position):  # this run's events: its campaign, contacts, agents and pacing
        fold.apply(rec.event)
        events += 1
    fold.close(end_at)
    return SimulationResult(cid, name, fold.summary(cid, agent_ids), events, start, end_at)
