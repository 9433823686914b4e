"""bench/dnc: a do-not-call lookup at dial time, on a national list of 50,000,000 numbers.

The store (SQLite at /tmp/bench-dnc.db by default, kept between runs so only the first run pays
for the load) holds the list "national" with N numbers, loaded through ``DncStore.replace`` (the
path `dialer dnc import` takes: streamed, batched, made live at once). The run measures, for
20,000 random numbers (half of them on the list):
  1. ``DncStore.check``: every list in scope with its revision, and whether the number is on it
     (what the dialler asks once per dial);
  2. the same lookup as a raw indexed SELECT on the same table, through the same driver: the
     limit beside it.
It prints the medians and 99th percentiles in microseconds and their ratio, and the load rate of
a first run (numbers/s).

    .venv/bin/python -m bench.dnc
    .venv/bin/python -m bench.dnc --numbers 1000000 --url sqlite:////tmp/bench-dnc-small.db
    .venv/bin/python -m bench.dnc --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator
from uuid import uuid4

from adapters.lists.dnc import DncStore
from adapters.persistence.eventstore import open_event_store


def _number(i: int) -> str:
    """The i-th number of the list: +1 followed by 10 digits, spread over the whole range."""
    return f"+1{(2_000_000_000 + i * 157) % 10_000_000_000:010d}"


def _lines(n: int, report_every: int) -> Iterator[str]:
    started = time.perf_counter()
    for i in range(n):
        if i and i % report_every == 0:
            print(f"  loaded {i:,} numbers, {i / (time.perf_counter() - started):,.0f}/s", flush=True)
        yield _number(i)


def _quantiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) * 1e6, samples[int(len(samples) * 0.99)] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=50_000_000)
    parser.add_argument("--url", default="sqlite:////tmp/bench-dnc.db")
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    store = open_event_store(args.url)
    datastore = store.recorder.datastore
    dnc = DncStore(datastore)
    have = {m.name: m.entries for m in dnc.lists()}
    if have.get("national") != args.numbers:
        print(f"loading {args.numbers:,} numbers into 'national' (once; kept in {args.url.split('@')[-1]})", flush=True)
        started = time.perf_counter()
        meta, refused = dnc.replace("national", _lines(args.numbers, 1_000_000), source="bench", by="bench")
        took = time.perf_counter() - started
        assert not refused and meta.entries == args.numbers
        print(f"load: {args.numbers:,} numbers in {took:,.0f} s, {args.numbers / took:,.0f} numbers/s")
    rng = random.Random(7)
    probes = [_number(rng.randrange(args.numbers)) if i % 2 == 0 else f"+1{rng.randrange(10**10):010d}" for i in range(args.lookups)]
    campaign = uuid4()
    raw_sql = dnc._sql("SELECT 1 FROM {p}dialer_dnc_numbers WHERE list = ? AND gen = ? AND e164 = ?")
    live_gen = int(dnc._query("SELECT live_gen FROM {p}dialer_dnc_lists WHERE name = 'national'", ())[0][0])
    check_times: list[float] = []
    raw_times: list[float] = []
    hits = 0
    for round_ in range(2):  # the first round warms the cache; the second is measured
        check_times.clear()
        raw_times.clear()
        hits = 0
        for e164 in probes:
            t = time.perf_counter()
            verdict = dnc.check(e164, campaign)
            check_times.append(time.perf_counter() - t)
            hits += bool(verdict.listed_on)
            t = time.perf_counter()
            with datastore.transaction(commit=False) as curs:
                curs.execute(raw_sql, ("national", live_gen, e164))
                curs.fetchall()
            raw_times.append(time.perf_counter() - t)
        if round_ == 0:
            print(f"warm-up: {len(probes):,} lookups, {hits:,} on the list")
    c50, c99 = _quantiles(check_times)
    r50, r99 = _quantiles(raw_times)
    print(f"list: {args.numbers:,} numbers; {len(probes):,} lookups, {hits:,} on the list; store {args.url.split('://')[0]}")
    print(f"DncStore.check   median {c50:8.1f} us   p99 {c99:8.1f} us")
    print(f"raw SELECT       median {r50:8.1f} us   p99 {r99:8.1f} us")
    print(f"ratio (check / raw SELECT): median {c50 / r50:.2f}, p99 {c99 / r99:.2f}; goal: check under 1,000 us")
    store.close()


if __name__ == "__main__":
    main()
