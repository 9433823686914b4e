"""bench/engine: the dialler on PostgreSQL with 1,000 agents and a list of 1,000,000 contacts, on an
accelerated clock.

The world is the simulated one of the main job (``adapters.telephony.simulated``: calls that
ring, are answered, talk and end; agents who take calls, wrap up and dispose), on a virtual clock
that runs as fast as the engine lets it: the engine's own time is the limit. The store and the
queue view are PostgreSQL, in a database of their own (``bench_engine``, created if missing and kept
between runs, so only the first run pays for the 1,000,000 contacts) so that its transaction counter
counts this process alone. Runs on one database share the campaign's history (the abandon cap's
rolling windows, the pacing estimator): compare runs started on the same history.

After a warm-up (agents logging in, pacing finding its rate) it measures a window of virtual
minutes: dials/s and events/s of wall time; appends, stream queries (a load or a load of several) and PostgreSQL transactions per
dial; and from an answer's report to the bridge command (answers that found an agent free), p50
and p99 of wall time. In the same run: the raw single-row INSERT rate (psycopg, autocommit), and
at the run's own mean batch size the library's append rate (its ``insert_events``) and the
store's (one statement on PostgreSQL, ADR 0035).

``--drain-ms D`` models the live service's inbox (ADR 0027): the world's reports wait in it, and
every D milliseconds of the site's time the engine acts on all that came in as one step (one
append, pacing once after it). An answer then also waits up to D ms of the site's time before its
step; answer -> bridge is timed from the drain. 0 (the default) acts on each report as it comes.

    .venv/bin/python -m bench.engine                              # 1,000 agents, 1,000,000 contacts, predictive
    .venv/bin/python -m bench.engine --agents 200 --contacts 200000 --minutes 3 --mode power
    .venv/bin/python -m bench.engine --drain-ms 100                # reports drained ten times a second
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time as wall
import uuid
from datetime import UTC, datetime, time
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import psycopg
import simpy

from adapters.persistence.eventstore import RecorderEventStore, open_event_store
from adapters.telephony.simulated import SimulatedAgents, SimulatedTelephony, SimulationDriver, VirtualClock, WorldParams
from adapters.views import statistics as projections
from bench.queue import contacts_in_view
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.errors import DomainError, NotFound
from dialer_domain.model.events import CallAbandoned, CallProgressed, ContactQueued
from dialer_domain.model.identities import campaign_id_for, seeded_ids
from dialer_domain.model.values import (
    SIMULATED_DISPOSITIONS,
    CallOutcome,
    CampaignSettings,
    CampaignStatus,
    ContactData,
    DialMode,
    OpeningHours,
    Period,
    PhoneNumber,
)
from dialer_domain.service_layer.engine import EngineConfig
from dialer_domain.service_layer.handlers import CampaignSpec, add_contacts, campaign_named, create_campaign, set_campaign_status
from dialer_domain.service_layer.ports import CallReport, ReportKind
from dialer_domain.service_layer.repository import Repository, iter_log
from entrypoints import bootstrap

NAME = "Bench engine"
SKILL = "bench-engine"
SETUP_AT = datetime(2026, 11, 22, 8, tzinfo=UTC)
#: the product's default cap (ADR 0020). Its rolling windows, like the pacing estimator, carry one
#: run's calls into the next: compare runs started on the same history (a fresh --database)
ABANDON_CAP = 0.03


def ensure_database(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server)._replace(path="/" + name))  # a socket's ?host= stays as it is


def ensure_contacts(url: str, n: int, mode: DialMode) -> None:
    store = open_event_store(url)
    repo = Repository(store)
    cid = campaign_id_for(NAME)
    try:
        campaign_named(repo, NAME)
    except NotFound:
        hours = OpeningHours("UTC", {d: (Period(time(0), time(23, 59, 59)),) for d in range(7)})
        settings = CampaignSettings(
            skill=SKILL,
            max_ring_seconds=25,
            attempts_per_number=3,
            min_redial_seconds=3600,
            wrapup_seconds=120,
            caller_id_number="+4570123456",
            dispositions=SIMULATED_DISPOSITIONS,
            calling_policy="none",
            abandon_cap=ABANDON_CAP,
            callback_outside_hours="move",  # a callback asked for in the second before midnight (the hours' gap) goes to the next opening
        )
        spec = CampaignSpec(name=NAME, description="bench/engine", manager="bench", priority=5, dial_mode=mode)
        create_campaign(repo, spec, settings=settings, hours=hours, at=SETUP_AT)
        set_campaign_status(repo, cid, CampaignStatus.AUTOMATIC, by="bench", at=SETUP_AT)
    campaign = repo.get(Campaign, cid)
    if campaign.dial_mode is not mode:
        campaign.change_dial_mode(mode, datetime.now(UTC), "bench")
    if campaign.config.abandon_cap != ABANDON_CAP:
        campaign.change_settings(attrs.evolve(campaign.config, abandon_cap=ABANDON_CAP), datetime.now(UTC), "bench")
    repo.save(campaign)
    view = projections.open_view(url, "queue")
    projections.catch_up(store, view)
    have = contacts_in_view(view, cid)
    if have < n:
        print(f"adding {n - have:,} contacts (once; the database is kept) ...", flush=True)
        rng = random.Random(have)
        for lo in range(have, n, 50_000):
            rows = [
                (f"e{i:07d}", (PhoneNumber(f"+453{rng.randrange(10**7):07d}"),), ContactData(name=f"Contact {i}"), 5, None)
                for i in range(lo, min(n, lo + 50_000))
            ]
            add_contacts(repo, cid, rows, source="bench", at=SETUP_AT)
            print(f"  {min(n, lo + 50_000):,}", flush=True)
        t = wall.perf_counter()
        caught = projections.catch_up(store, view)
        print(f"  queue view caught up: {caught:,} events in {wall.perf_counter() - t:.0f} s", flush=True)
    view.factory.close()
    store.close()


def transactions(server_url: str, db: str) -> int:
    """Committed and rolled-back transactions of ``db`` so far. PostgreSQL's counter is flushed by
    an idle backend within its idle interval (10 s in PostgreSQL 15): read when the engine has
    been idle past it (the simulation stands still between its measured stretches)."""
    wall.sleep(11.0)
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", (db,)).fetchone()
        return int(row[0]) if row else 0


class Counting:
    """Counts the store's appends, events appended and stream queries (a ``load``, or a
    ``load_many`` of any number of streams), on the instance."""

    def __init__(self, store: RecorderEventStore) -> None:
        self.appends = self.appended = self.loads = self.streams = 0
        append, load, load_many = store.append, store.load, store.load_many

        def counted_append(events: Any) -> Any:
            self.appends += 1
            self.appended += len(events)
            return append(events)

        def counted_load(stream_id: Any, **kw: Any) -> Any:
            self.loads += 1
            self.streams += 1
            return load(stream_id, **kw)

        def counted_load_many(stream_ids: Any) -> Any:
            self.loads += 1
            self.streams += len(stream_ids)
            return load_many(stream_ids)

        store.append = counted_append  # type: ignore[method-assign]
        store.load = counted_load  # type: ignore[method-assign]
        store.load_many = counted_load_many  # type: ignore[method-assign]


class DrainingDriver(SimulationDriver):
    """The live service's inbox on simulated time: reports wait, and every ``every`` seconds the
    engine acts on those that came in as one step (``Dialler.on_reports``)."""

    def __init__(self, env: simpy.Environment, engine: Any, every: float) -> None:
        super().__init__(env, engine)
        self.inbox: list[CallReport] = []
        self.drains = self.drained = 0
        env.process(self._draining(every))

    def report(self, report: CallReport) -> None:
        self.inbox.append(report)

    def _draining(self, every: float) -> Any:
        while True:
            yield self.env.timeout(every)
            if self.inbox:
                batch, self.inbox = self.inbox, []
                self.drains += 1
                self.drained += len(batch)
                self.call(partial(self.engine.on_reports, batch))


def run(
    url: str,
    server: str,
    db: str,
    mode: DialMode,
    agents: int,
    warmup_s: float,
    window_s: float,
    seed: int,
    pace_every: float | None = None,
    drain_ms: float = 0.0,
) -> dict[str, Any]:
    store = open_event_store(url)
    counts = Counting(store)
    env = simpy.Environment()
    start = datetime.now(UTC).replace(microsecond=0)
    clock = VirtualClock(env, start)
    rng = random.Random(seed)
    world = WorldParams()
    telephony = SimulatedTelephony(env, random.Random(rng.getrandbits(64)), world, clock)
    people = SimulatedAgents(env, random.Random(rng.getrandbits(64)), world, tuple(d.code for d in SIMULATED_DISPOSITIONS))
    config = EngineConfig(pace_every_seconds=pace_every)
    ids = seeded_ids(seed * 7919 + int(wall.time()))
    engine = bootstrap.dialler(store, telephony, clock, ids, desktop=people, queue=bootstrap.queue(store), config=config)
    t0 = wall.perf_counter()
    engine.sync()
    people.engine = engine
    driver = DrainingDriver(env, engine, drain_ms / 1000) if drain_ms > 0 else SimulationDriver(env, engine)
    telephony.sink = people.driver = driver

    placed = 0
    answered_at: dict[uuid.UUID, float] = {}
    bridge_ms: list[float] = []
    waited = 0
    handling: set[uuid.UUID] = set()  # the answers of the step being run
    place, bridge, on_reports = telephony.place_call, telephony.bridge, engine.on_reports
    pace = engine._pace_contact_first
    paced = 0

    def counted_pace(*args: Any) -> None:  # a contact-first pacing run (a predictive decision, unless none is due)
        nonlocal paced
        paced += 1
        pace(*args)

    def counted_place(request: Any) -> None:
        nonlocal placed
        placed += 1
        place(request)

    def timed_bridge(call_id: uuid.UUID, agent_id: str) -> None:
        nonlocal waited
        began = answered_at.pop(call_id, None)
        if began is not None:
            if call_id in handling:
                bridge_ms.append((wall.perf_counter() - began) * 1000)
            else:
                waited += 1  # answered with no agent free; bridged when one came
        bridge(call_id, agent_id)

    def timed_reports(reports: Any) -> None:
        for r in reports:
            if r.kind is ReportKind.ANSWERED_HUMAN and r.call_id is not None:
                answered_at[r.call_id] = wall.perf_counter()
                handling.add(r.call_id)
        try:
            on_reports(reports)
        finally:
            handling.clear()

    telephony.place_call = counted_place  # type: ignore[method-assign]
    telephony.bridge = timed_bridge  # type: ignore[method-assign]
    engine.on_reports = timed_reports  # type: ignore[method-assign]
    engine._pace_contact_first = counted_pace  # type: ignore[method-assign]
    engine.on_report = lambda report: timed_reports([report])  # type: ignore[method-assign]
    telephony.sink = people.driver = driver

    names = [f"{SKILL}-{seed}-{int(wall.time())}-{i:04d}" for i in range(agents)]
    for a in names:
        engine.log_in(a, skills=(SKILL,))
        engine.ready(a)
    login_s = wall.perf_counter() - t0
    env.process(driver.ticking(EngineConfig().tick_seconds, warmup_s + window_s))
    env.run(until=warmup_s)
    x0 = transactions(server, db)
    def reading() -> tuple[Any, ...]:
        c = counts
        return (wall.perf_counter(), wall.process_time(), placed, store.max_position(), c.appends, c.appended, c.loads, len(bridge_ms), c.streams,
                paced)

    mark = reading()
    env.run(until=warmup_s + window_s)
    end = reading()
    x1 = transactions(server, db)
    # a bounded end: no new dials, the agents leave (calls still up stay in the log as the engine left them)
    set_campaign_status(engine.repo, campaign_id_for(NAME), CampaignStatus.DISABLED, by="bench", at=clock.now())
    for a in names:
        if engine.agent(a).logged_in:
            with contextlib.suppress(DomainError):  # an agent still on a call stays; the next run's agents are new
                engine.log_out(a, by="bench")
    set_campaign_status(engine.repo, campaign_id_for(NAME), CampaignStatus.AUTOMATIC, by="bench", at=clock.now())
    humans = abandoned = 0
    for rec in iter_log(store, after=mark[3]):
        if rec.position > end[3]:
            break
        if isinstance(rec.event, CallProgressed) and rec.event.progress is CallOutcome.ANSWERED_HUMAN:
            humans += 1
        elif isinstance(rec.event, CallAbandoned):
            abandoned += 1
    store.close()
    return {
        "humans": humans,
        "abandoned": abandoned,
        "login_s": login_s,
        "wall": end[0] - mark[0],
        "cpu": end[1] - mark[1],
        "dials": end[2] - mark[2],
        "events": end[3] - mark[3],
        "appends": end[4] - mark[4],
        "appended": end[5] - mark[5],
        "loads": end[6] - mark[6],
        "streams": end[8] - mark[8],
        "paced": end[9] - mark[9],
        "bridge_ms": bridge_ms[mark[7] :],
        "waited": waited,
        "transactions": x1 - x0,
        "reports_per_drain": driver.drained / driver.drains if isinstance(driver, DrainingDriver) and driver.drains else 1.0,
    }


def raw_insert_rate(server: str, n: int) -> float:
    """Single-row INSERTs, each its own transaction (autocommit), into a table shaped like the
    events table: the floor a write of one row per transaction costs on this machine."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_engine_raw")
        conn.execute(
            "CREATE TABLE bench_engine_raw (id BIGSERIAL PRIMARY KEY, stream UUID NOT NULL, version INT NOT NULL, "
            "topic TEXT NOT NULL, state BYTEA NOT NULL)"
        )
        payload = b'{"campaign_id":"' + str(uuid.uuid4()).encode() + b'","_v":1}'
        started = wall.perf_counter()
        for i in range(n):
            row = (uuid.uuid4(), i, "ContactQueued", payload)
            conn.execute("INSERT INTO bench_engine_raw (stream, version, topic, state) VALUES (%s, %s, %s, %s)", row)
        rate = n / (wall.perf_counter() - started)
        conn.execute("DROP TABLE bench_engine_raw")
        return rate


def append_rates(url: str, batch: int, n: int) -> tuple[float, float]:
    """Appends/s of ``batch`` events each (new streams, mapped beforehand): the library's own
    ``insert_events``, and our store's append (one statement on PostgreSQL, ADR 0035), alternating
    in rounds so that both see the same machine."""
    store = open_event_store(url)
    now = datetime.now(UTC)

    def mapped() -> list[Any]:
        stream = uuid.uuid4()
        return [store.mapper.to_stored_event(ContactQueued(originator_id=stream, originator_version=v, timestamp=now, campaign_id=stream))
                for v in range(1, batch + 1)]

    took = {"library": 0.0, "store": 0.0}
    ways = {"library": store.recorder.insert_events, "store": store.append_stored}  # (below 100 events, append_stored is append's path)
    rounds = 5
    for _ in range(rounds):
        for name, append in ways.items():
            batches = [mapped() for _ in range(n // rounds)]
            started = wall.perf_counter()
            for stored in batches:
                append(stored)
            took[name] += wall.perf_counter() - started
    store.close()
    return n / took["library"], n / took["store"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres", help="a database to connect to for admin work")
    ap.add_argument("--database", default="bench_engine")
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--mode", type=DialMode, default=DialMode.PREDICTIVE, choices=list(DialMode))
    ap.add_argument("--warmup", type=float, default=2.0, help="virtual minutes before the measured window")
    ap.add_argument("--minutes", type=float, default=3.0, help="virtual minutes measured")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pace-every", type=float, default=None, help="the engine's pace_every_seconds (default: automatic, ADR 0026)")
    ap.add_argument("--drain-ms", type=float, default=0.0, help="act on the reports that came in every so many ms, as one step (0: each as it comes)")
    a = ap.parse_args(argv)
    url = ensure_database(a.server, a.database)
    ensure_contacts(url, a.contacts, a.mode)
    pace_every = a.pace_every
    r = run(url, url, a.database, a.mode, a.agents, a.warmup * 60, a.minutes * 60, a.seed, pace_every, a.drain_ms)
    raw = raw_insert_rate(url, 3000)
    batch = max(1, round(r["appended"] / max(1, r["appends"])))
    lib, ours = append_rates(url, batch, 1000)
    dials = r["dials"]
    w = r["wall"]
    ms = sorted(r["bridge_ms"])
    p50 = statistics.median(ms) if ms else float("nan")
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan")
    print(f"bench/engine: {a.mode.value}, {a.agents} agents, {a.contacts:,} contacts, PostgreSQL ({a.database})")
    interval = "automatic (ADR 0026)" if pace_every is None else f"{pace_every:g} s (0: after every event)"
    print(f"  window of {a.minutes:g} virtual minutes after a warm-up of {a.warmup:g}; pacing at most every {interval}")
    drained = f"drained every {a.drain_ms:g} ms of the site's time, {r['reports_per_drain']:.1f} reports a drain (mean)"
    print(f"  reports: {drained if a.drain_ms > 0 else 'each acted on as it comes'}")
    print(f"  log-in of {a.agents} agents            {r['login_s']:>10.1f} s")
    print(f"  dials                              {dials:>10,} in {w:.1f} s wall ({a.minutes * 60 / w:.2f}x real time)")
    print(f"  dials/s                            {dials / w:>10,.1f}")
    print(f"  events/s                           {r['events'] / w:>10,.1f}   ({r['events'] / max(1, dials):.1f} per dial)")
    print(f"  appends per dial                   {r['appends'] / max(1, dials):>10.2f}   ({batch} events per append, mean)")
    print(f"  stream queries per dial            {r['loads'] / max(1, dials):>10.2f}   ({r['streams'] / max(1, dials):.2f} streams loaded)")
    print(f"  pacing runs per dial               {r['paced'] / max(1, dials):>10.2f}   ({r['paced'] / (a.minutes * 60):.1f} a site second)")
    print(f"  engine CPU per dial                {r['cpu'] / max(1, dials) * 1000:>10.2f} ms")
    print(f"  PostgreSQL transactions per dial   {r['transactions'] / max(1, dials):>10.2f}   (the database's own counter)")
    print(f"  abandoned / human answers          {r['abandoned']:>10,} / {r['humans']:,} ({r['abandoned'] / max(1, r['humans']):.2%})")
    print(f"  answer -> bridge, p50 / p99        {p50:>10.2f} / {p99:.2f} ms  ({len(ms)} answers found an agent free; {r['waited']} waited for one)")
    print(f"  raw single-row INSERT, same run    {raw:>10,.0f} /s")
    print(f"  library append of {batch} events      {lib:>10,.0f} /s   (its insert_events)")
    print(f"  store append of {batch} events        {ours:>10,.0f} /s   (one statement, ADR 0035)")
    print(f"  dials/s / raw INSERT/s             {dials / w / raw:>10.3f}")
    print(f"  appends/s / library appends/s      {r['appends'] / w / lib:>10.3f}")
    print(f"  appends/s / store appends/s        {r['appends'] / w / ours:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
