"""bench/rebuild: regenerate the statistics from 1,000,000 stored events on PostgreSQL.

The events are real ones: simulated campaign days (power mode, 50 agents) run through the engine
on the in-memory store, then copied as stored rows into a PostgreSQL schema (kept between runs, so
only the first run pays for it). In one run it then measures, on the same rows:
  1. a raw ordered SELECT of the events table (psycopg, server-side cursor, rows/s);
  2. the library's own read alone (its recorder's select_notifications, pages of 5,000 rows into
     its StoredEvent objects, no decoding): what the library costs before our code runs;
  3. the store's own read alone (ADR 0036: the same pages as binary tuple rows, no decoding);
  4. the store's read plus our decoding of whole events (RecorderEventStore.read, ADR 0038, events/s);
  5. the statistics rebuild (pages of 20,000 events, one transaction each, events/s), its CPU seconds
     against its wall seconds (near 1: it is bound by one interpreter's CPU), and its ratios to 1,
     2 and 3. Each line also gives microseconds per stored event;
  6. the libraries' floor under the rebuild's input: for the events the rebuild reads, the CPU of
     the store's select and of ``orjson.loads`` of each state: what psycopg and orjson cost before
     any object of ours is made. The rest of the rebuild's time is ours (making the events, of
     which it decodes only the fields the fold reads, ADR 0037; the fold; the view's writes).

    .venv/bin/python -m bench.rebuild                       # postgresql://postgres@127.0.0.1:5432/test, schema bench_rebuild
    .venv/bin/python -m bench.rebuild --events 200000 --url postgresql://...
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import psycopg

from adapters.persistence.eventstore import RecorderEventStore, open_event_store
from adapters.persistence.streams import select_log_postgres
from adapters.views import statistics as projections
from adapters.views.base import REBUILD_BATCH, fewer_collections
from dialer_domain.model.values import DialMode
from entrypoints.simulate import SimulationConfig, run_simulation


def ensure_events(url: str, target: int) -> int:
    store = open_event_store(url)
    have = store.max_position()
    if have >= target:
        store.close()
        return have
    print(f"generating {target - have} events (simulated days, copied into PostgreSQL) ...", flush=True)
    seed = 100 + have // 1000
    while have < target:
        mem = open_event_store("memory:")
        small = target < 200_000  # a smoke run: short days
        cfg = SimulationConfig(
            mode=DialMode.POWER,
            agents=50,
            contacts=3000 if small else 30000,
            hours=0.5 if small else 8,
            seed=seed,
            campaign_name=f"Bench day {seed}",
        )
        run_simulation(mem, cfg)
        rows = mem.recorder.select_notifications(start=1, limit=10**8)
        for i in range(0, len(rows), 5000):
            store.recorder.insert_events(rows[i : i + 5000])
        have = store.max_position()
        seed += 1
        print(f"  {have} events stored", flush=True)
    store.close()
    return have


def raw_select(conninfo: str, schema: str, limit: int) -> float:
    with psycopg.connect(conninfo) as conn, conn.cursor(name="bench_raw") as cur:
        cur.itersize = 5000
        started = time.perf_counter()
        cur.execute(
            f'SELECT notification_id, originator_id, originator_version, topic, state FROM "{schema}".stored_events '
            "WHERE notification_id <= %s ORDER BY notification_id",
            (limit,),
        )
        n = sum(1 for _ in cur)
        return n / (time.perf_counter() - started)


def _paged_rate(url: str, limit: int, page: Callable[[RecorderEventStore, int], Sequence[Any]], last: Callable[[Any], int]) -> float:
    """Rows per second reading the log in pages of 5,000 with ``page(store, after)``."""
    store = open_event_store(url)
    started = time.perf_counter()
    position = n = 0
    while position < limit:
        rows = page(store, position)
        if not rows:
            break
        position = last(rows[-1])
        n += len(rows)
    rate = n / (time.perf_counter() - started)
    store.close()
    return rate


def library_select(url: str, limit: int) -> float:
    """The library's own read: its recorder's rows as StoredEvent objects, nothing decoded."""
    return _paged_rate(
        url, limit, lambda store, after: store.recorder.select_notifications(start=after, limit=5000, inclusive_of_start=False), lambda r: r.id
    )


def store_select(url: str, limit: int) -> float:
    """The store's own read alone (ADR 0036): binary tuple rows, no decoding."""
    return _paged_rate(url, limit, lambda store, after: select_log_postgres(store.recorder, after, 5000), lambda r: r[0])


def store_read(url: str, limit: int) -> float:
    """The store's read plus our decoding of whole events (RecorderEventStore.read)."""
    return _paged_rate(url, limit, lambda store, after: store.read(after, 5000), lambda r: r.position)


def libraries_floor(url: str) -> float:
    """CPU seconds, page by page as the rebuild reads (its page, its collector's threshold) over the
    events it reads: the store's select and orjson's loads of each state."""
    store = open_event_store(url)
    topics, clock = projections.STATISTICS_TOPICS, time.process_time
    spent, position = 0.0, 0
    try:
        with fewer_collections():
            while True:
                started = clock()
                rows = select_log_postgres(store.recorder, position, REBUILD_BATCH, topics)
                states = [orjson.loads(row[4]) for row in rows]
                spent += clock() - started
                del states
                if not rows:
                    break
                position = rows[-1][0]
    finally:
        store.close()
    return spent


def rebuild_rate(url: str) -> tuple[float, int, float]:
    """Events of the log per second, events folded, and CPU seconds per wall second."""
    store = open_event_store(url)
    view = projections.open_view(url)
    started, cpu = time.perf_counter(), time.process_time()
    _, done = projections.rebuild(store, view)  # its own page (REBUILD_BATCH)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    head = store.max_position()
    store.close()
    return head / elapsed, done, cpu / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--schema", default="bench_rebuild")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    with psycopg.connect(a.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{a.schema}"')
    url = f"{a.url}?schema={a.schema}"
    total = ensure_events(url, a.events)
    raws, selects, own_selects, reads, rebuilds, cpus, floors = [], [], [], [], [], [], []
    decoded = 0
    for _ in range(a.repeat):
        raws.append(raw_select(a.url, a.schema, total))
        selects.append(library_select(url, total))
        own_selects.append(store_select(url, total))
        reads.append(store_read(url, total))
        rate, decoded, cpu = rebuild_rate(url)
        rebuilds.append(rate)
        cpus.append(cpu)
        floors.append(total / libraries_floor(url))
    raw, sel, own, read, reb, cpu, floor = (statistics.median(x) for x in (raws, selects, own_selects, reads, rebuilds, cpus, floors))
    print(f"bench/rebuild: {total} stored events on PostgreSQL, medians of {a.repeat} rounds")
    print(f"  raw ordered SELECT              {raw:>10,.0f} rows/s    {1e6 / raw:5.1f} us/event")
    print(f"  library select, no decoding     {sel:>10,.0f} rows/s    {1e6 / sel:5.1f} us/event")
    print(f"  store select, no decoding       {own:>10,.0f} rows/s    {1e6 / own:5.1f} us/event   (ADR 0036)")
    print(f"  store read + whole decoding     {read:>10,.0f} events/s  {1e6 / read:5.1f} us/event")
    print(
        f"  statistics rebuild              {reb:>10,.0f} events/s  {1e6 / reb:5.1f} us/event of the log "
        f"({decoded:,} events it needs decoded and folded; {cpu:.2f} CPU s per wall s)"
    )
    print(f"  libraries' floor                {floor:>10,.0f} events/s  {1e6 / floor:5.1f} us/event of the log (CPU: select, orjson)")
    print(f"  library select / raw SELECT     {sel / raw:>10.2f}")
    print(f"  store select / raw SELECT       {own / raw:>10.2f}")
    print(f"  rebuild / library select        {reb / sel:>10.2f}")
    print(f"  rebuild / store select          {reb / own:>10.2f}")
    print(f"  libraries' floor / raw SELECT   {floor / raw:>10.2f}")
    print(f"  rebuild / libraries' floor      {reb / floor:>10.2f}   (rebuild CPU against the floor's: {floor / reb * cpu:.2f}x)")
    print(f"  rebuild / raw SELECT            {reb / raw:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
