"""A simulated campaign day (the main job): the real dialler, store and views, wired here to the
simulated world of ``adapters.telephony.simulated`` (calls, agents, a virtual clock), then the
day's figures from the statistics fold."""


from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import attrs
import simpy

from adapters.lists.calendar import PhoneCalendar
from adapters.telephony.simulated import SimulatedAgents, SimulatedTelephony, SimulationDriver, VirtualClock, WorldParams
from adapters.views.base import fewer_collections
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.events import ALL_EVENTS
from dialer_domain.model.identities import campaign_id_for, seeded_ids
from dialer_domain.model.values import (
    SIMULATED_DISPOSITIONS,
    AgentState,
    CampaignSettings,
    CampaignStatus,
    ContactData,
    DialMode,
    OpeningHours,
    Period,
    PhoneNumber,
)
from dialer_domain.rules.compliance import ComplianceFold
from dialer_domain.rules.reads import Reads, reads_together
from dialer_domain.rules.statistics import StatisticsFold
from dialer_domain.service_layer.campaign_admin import change_selection
from dialer_domain.service_layer.engine import EngineConfig
from dialer_domain.service_layer.handlers import CampaignSpec, add_contacts, create_campaign, set_campaign_status
from dialer_domain.service_layer.ports import EventStore, QueueView, RecordedEvent
from dialer_domain.service_layer.repository import iter_log
from entrypoints import bootstrap


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
    world: WorldParams = attrs.field(factory=WorldParams)
    power_ratio_ready: float = 1.7
    power_ratio_wrapup: float = 0.1
    target_abandon_rate: float = 0.03
    wrapup_seconds: int = 120
    max_ring_seconds: int = 25
    attempts_per_number: int = 3
    min_redial_seconds: int = 3600
    campaign_name: str | None = None
    calling_policy: str = "us_tcpa"  # the callee's local hours (ADR 0014); the made-up numbers ring in the campaign's zone
    abandon_cap: float | None = 0.03  # the rolling abandon rate pacing never passes (ADR 0020)
    list_filter: str | None = None  # R10: only the contacts this filter selects are dialled (e.g. "key <= 'c0000500'")
    list_sort: str = ""  # R10: their order within R11's tiers (e.g. "name desc")


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
    PostgreSQL); without it the engine folds the queue in memory. The cyclic garbage collector
    runs less often meanwhile (``fewer_collections``): a day makes and drops millions of objects,
    almost none of them in cycles."""
    if cfg.agents < 1 or cfg.contacts < 1 or cfg.hours <= 0:
        raise ValueError(f"a simulated day needs agents, contacts and hours above zero, not {cfg.agents}, {cfg.contacts} and {cfg.hours:g}")
    with fewer_collections():
        return _run_simulation(store, cfg, progress, queue)


def _run_simulation(store: EventStore, cfg: SimulationConfig, progress: Callable[[float], None] | None, queue: QueueView | None) -> SimulationResult:
    first_position = store.max_position()  # what this run records comes after
    rng = random.Random(cfg.seed)
    env = simpy.Environment()
    h, m = (int(x) for x in cfg.opens_at.split(":"))
    from dialer_domain.rules.schedule import zone

    start_local = datetime.combine(datetime.fromisoformat(cfg.day).date(), time(h, m), zone(cfg.time_zone))
    start = start_local.astimezone(UTC)
    clock = VirtualClock(env, start)
    total = cfg.warmup_minutes * 60 + cfg.hours * 3600
    dispositions = tuple(d.code for d in SIMULATED_DISPOSITIONS)
    telephony = SimulatedTelephony(env, random.Random(rng.getrandbits(64)), cfg.world, clock)
    agents_world = SimulatedAgents(env, random.Random(rng.getrandbits(64)), cfg.world, dispositions)
    engine = bootstrap.dialler(store, telephony, clock, seeded_ids(cfg.seed), desktop=agents_world, queue=queue)
    engine.sync()
    end_at = clock.at(total)  # what ``clock.now()`` gives once ``env.run(until=total)`` is done
    window = (start + timedelta(minutes=cfg.warmup_minutes), end_at)
    day = DayFolds(store, first_position, window)
    engine.listeners.append(day)  # the day's report, folded as the engine folds the log
    agents_world.engine = engine
    driver = SimulationDriver(env, engine)
    telephony.sink = agents_world.driver = driver

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
        dispositions=SIMULATED_DISPOSITIONS,
        callback_outside_hours="move",  # a callback asked for after the day's end waits for the next opening
        calling_policy=cfg.calling_policy,
        abandon_cap=cfg.abandon_cap,
    )
    create_campaign(
        engine.repo,
        CampaignSpec(name=name, description="simulated campaign day", manager="simulation", priority=5, dial_mode=cfg.mode),
        settings=settings,
        hours=hours,
        at=start,
    )
    cid = campaign_id_for(name)
    if cfg.list_filter or cfg.list_sort:
        change_selection(
            engine.repo,
            engine.repo.get(Campaign, cid),
            save=("simulation", cfg.list_filter) if cfg.list_filter else None,
            use="simulation" if cfg.list_filter else ...,
            sort=cfg.list_sort or None,
            by="simulation",
            at=start,
        )
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
    driver.call(lambda: set_campaign_status(engine.repo, cid, CampaignStatus.DISABLED, by="simulation: end of day", at=clock.now()))
    driver.call(engine.sync)
    env.run(until=total + 4 * 3600)
    for a in agent_ids:
        s = engine.agent(a)
        if s.logged_in and s.state is not AgentState.TALKING:
            driver.call(partial(engine.log_out, a, by="simulation: end of day"))
    driver.call(engine.tick)
    engine.sync()  # the folds, and so the day's, to the end of the log
    summary, events = day.report(cid, agent_ids, (start, clock.now() + timedelta(seconds=1)))
    return SimulationResult(cid, name, summary, events, start, end_at)


#: What the day's report reads of its events: the statistics' and the compliance folds' declarations
#: together (ADR 0037); nothing but the stream, version and time of the events neither looks at.
DAY_READS: Reads = reads_together(ALL_EVENTS, (StatisticsFold.EVENTS, StatisticsFold.READS), (ComplianceFold.EVENTS, ComplianceFold.READS))


def day_report(
    store: EventStore,
    after: int,
    cid: UUID,
    agent_ids: Iterable[str] | None,
    window: tuple[datetime, datetime],
    period: tuple[datetime, datetime],
    reads: Reads | None = DAY_READS,
) -> tuple[dict[str, Any], int]:
    """The day's figures over ``window`` and its compliance report over ``period``, from the events
    after ``after`` (the run's own: its campaign, contacts, agents and pacing), each decoded only
    as far as ``reads`` declares (None: whole); and how many events there were. ``agent_ids``:
    whose time the summary counts (None: every agent's). A rebuild of what ``DayFolds`` folds as
    the day runs."""
    folds = DayFolds(store, after, window, reads)
    for rec in iter_log(store, after=after, reads=reads):  # the whole log after ``after``: nothing to look for between
        folds.fold(rec)
    return folds.report(cid, agent_ids, period)


class DayFolds:
    """The day's statistics and compliance folds over the events after ``after``, fed as the engine
    folds the log (a listener of its folds, ADR 0044), so the day's report needs no read of the
    log. Each event is folded once, in log order: one the engine did not hand over (its first sync
    on a persisted queue view reads only some topics) is read from ``store`` first."""

    def __init__(self, store: EventStore, after: int, window: tuple[datetime, datetime], reads: Reads | None = DAY_READS) -> None:
        self.store, self.reads, self.window = store, reads, window
        self.position = after
        self.events = 0
        self.statistics = StatisticsFold(window=window)
        self.compliance = ComplianceFold()

    def __call__(self, records: Iterable[RecordedEvent]) -> None:
        for rec in records:
            if rec.position > self.position:
                if rec.position != self.position + 1:
                    self._before(rec.position)
                self.fold(rec)

    def _before(self, position: int) -> None:
        """Fold the log's events between ours and ``position`` (there may be none: a database's
        sequence can skip a number)."""
        while self.position + 1 < position and (page := self.store.read(self.position, min(5000, position - self.position - 1), reads=self.reads)):
            for rec in page:
                if rec.position >= position:
                    return
                self.fold(rec)

    def fold(self, rec: RecordedEvent) -> None:
        """One event, the next after those folded (a listener's gaps are ``__call__``'s to fill)."""
        self.statistics.apply(rec.event)
        self.compliance.apply(rec.event)
        self.position = rec.position
        self.events += 1

    def report(self, cid: UUID, agent_ids: Iterable[str] | None, period: tuple[datetime, datetime]) -> tuple[dict[str, Any], int]:
        """The figures and compliance report (as ``day_report``); the folds are done with after it."""
        self.statistics.close(self.window[1])
        checked = self.compliance.report(cid, *period, PhoneCalendar().holiday)
        return {**self.statistics.summary(cid, agent_ids), "compliance": checked}, self.events
