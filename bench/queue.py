"""bench/queue: the engine over a list of 1,000,000 contacts, on the persisted queue view and on the
in-memory fold, in one run.

The store (PostgreSQL schema ``bench_queue`` by default, kept between runs so only the first run
pays for the import) holds one campaign with N contacts. The run measures:
  1. the queue view catching up with the log (events/s; the first run builds it from 0);
  2. the engine's start: construct, read the log (campaigns and agents only, with the persisted
     view; everything, with the in-memory fold), log 20 agents in and make them ready, and the
     first tick, which takes the first contacts from the 1,000,000;
  3. 300 ticks of one virtual second each, progressive mode, calls that ring out (wall time per
     tick: median and max).

    .venv/bin/python -m bench.queue
    .venv/bin/python -m bench.queue --contacts 200000 --url sqlite:////tmp/bench-queue.db
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time as wall
from datetime import UTC, datetime, time, timedelta
from uuid import UUID

import psycopg

from adapters.persistence.eventstore import open_event_store
from adapters.telephony.fake import FakeTelephony
from adapters.views import statistics as projections
from adapters.views.queue_port import PersistedQueue
from dialer_domain.model.identities import campaign_id_for, seeded_ids
from dialer_domain.model.values import CampaignSettings, CampaignStatus, ContactData, DialMode, OpeningHours, Period, PhoneNumber
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.handlers import CampaignSpec, add_contacts, campaign_named, create_campaign, set_campaign_status
from dialer_domain.service_layer.live_queue import LiveQueue
from dialer_domain.service_layer.ports import QueueView
from dialer_domain.service_layer.repository import Repository

NAME = "Bench queue"
SKILL = "bench-queue"
START = datetime(2026, 11, 23, 8, tzinfo=UTC)


class StepClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def ensure_contacts(url: str, n: int) -> UUID:
    store = open_event_store(url)
    repo = Repository(store)
    cid = campaign_id_for(NAME)
    try:
        campaign_named(repo, NAME)
    except Exception:
        hours = OpeningHours("UTC", {d: (Period(time(0), time(23, 59, 59)),) for d in range(7)})
        settings = CampaignSettings(skill=SKILL, max_ring_seconds=25, attempts_per_number=3, min_redial_seconds=3600, caller_id_number="+4570000000")
        spec = CampaignSpec(name=NAME, description="bench", manager="bench", priority=5, dial_mode=DialMode.PROGRESSIVE)
        create_campaign(repo, spec, settings=settings, hours=hours, at=START)
        set_campaign_status(repo, cid, CampaignStatus.AUTOMATIC, by="bench", at=START)
    view = projections.open_view(url, "queue")
    projections.catch_up(store, view)
    have = contacts_in_view(view, cid)
    if have < n:
        print(f"importing {n - have:,} contacts ...", flush=True)
        for lo in range(have, n, 50_000):
            rows = [
                (f"b{i:07d}", (PhoneNumber(f"+4531{i:06d}"[:11]),), ContactData(name=f"Contact {i}"), 5, None) for i in range(lo, min(n, lo + 50_000))
            ]
            add_contacts(repo, cid, rows, source="bench", at=START - timedelta(days=1))
            print(f"  {min(n, lo + 50_000):,}", flush=True)
    store.close()
    return cid


def contacts_in_view(view: object, cid: UUID) -> int:
    """The campaign's contacts in the live generation of the queue view (every state)."""
    with view.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute(view._sql("SELECT count(*) AS n FROM {p}dialer_queue2 WHERE gen = %s AND campaign_id = %s"), (view.live_generation(), str(cid)))  # type: ignore[attr-defined]
        return int(curs.fetchone()["n"])


def run_engine(url: str, persisted: bool, agents: int, ticks: int, run: int) -> dict[str, float]:
    store = open_event_store(url)
    clock = StepClock(datetime.now(UTC))
    tel = FakeTelephony()  # no network behind it: calls ring until the engine's ring timer ends them
    started = wall.perf_counter()
    queue: QueueView = PersistedQueue(store, projections.open_view(url, "queue")) if persisted else LiveQueue()
    engine = Dialler(store, tel, clock, seeded_ids(run), queue=queue)
    engine.sync()
    for i in range(agents):
        a = f"bench-{run}-{'p' if persisted else 'm'}-{i:02d}"
        engine.log_in(a, skills=(SKILL,))
        engine.ready(a)
    engine.tick()
    start_s = wall.perf_counter() - started
    times = []
    for _ in range(ticks):
        clock.at += timedelta(seconds=1)
        t = wall.perf_counter()
        engine.tick()
        times.append(wall.perf_counter() - t)
    for i in range(agents):
        engine.log_out(f"bench-{run}-{'p' if persisted else 'm'}-{i:02d}")
    store.close()
    return {"start": start_s, "median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000, "placed": len(tel.placed)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--schema", default="bench_queue")
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--ticks", type=int, default=300)
    a = ap.parse_args(argv)
    url = a.url
    if url.startswith("postgres"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{a.schema}"')
        url = f"{url}?schema={a.schema}"
    cid = ensure_contacts(url, a.contacts)
    store = open_event_store(url)
    view = projections.open_view(url, "queue")
    t = wall.perf_counter()
    caught = projections.catch_up(store, view)
    catch_s = wall.perf_counter() - t
    head = store.max_position()
    runs = int(wall.time())  # agents' names differ from run to run
    store.close()
    print(f"bench/queue: {contacts_in_view(view, cid):,} contacts in the queue view, {head:,} events in the log, {url.split('?')[0]}")
    if caught:
        print(f"  view catch-up            {caught:,} events in {catch_s:.1f} s ({caught / catch_s:,.0f} events/s)")
    p = run_engine(url, True, a.agents, a.ticks, runs)
    m = run_engine(url, False, a.agents, a.ticks, runs + 1)
    for label, r in (("persisted view", p), ("in-memory fold", m)):
        print(
            f"  {label:<15} start {r['start']:>7.2f} s   tick median {r['median_ms']:>7.2f} ms   max {r['max_ms']:>8.2f} ms"
            f"   ({r['placed']:.0f} calls placed in {a.ticks} ticks)"
        )
    print(f"  start, in-memory / persisted   {m['start'] / p['start']:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
