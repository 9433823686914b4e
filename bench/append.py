"""bench/append: what the gap check (ADR 0008) costs an engine commit.

In one run, on a fresh PostgreSQL schema (and a SQLite file), it times appends of 3 events that
follow their streams (versions 2, 3, 4 of one stream, like an engine commit on a known contact),
first with the trigger that refuses a version gap, then with it dropped, alternating rounds so the
machine's noise falls on both. Medians of the per-append times, and their ratio.

    .venv/bin/python -m bench.append                  # postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.append --appends 3000 --url postgresql://...
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

import psycopg

from adapters.persistence.eventstore import open_event_store
from adapters.persistence.schema import GAP_TRIGGER
from dialer_domain.model.events import ContactQueued


def events(stream: uuid.UUID, first: int) -> list[ContactQueued]:
    now = datetime.now(UTC)
    return [ContactQueued(originator_id=stream, originator_version=v, timestamp=now, campaign_id=stream) for v in range(first, first + 3)]


def timed_appends(store, n: int) -> list[float]:
    out = []
    for _ in range(n):
        stream = uuid.uuid4()
        store.append(events(stream, 1)[:1])
        batch = list(events(stream, 2))
        t = time.perf_counter()
        store.append(batch)
        out.append(time.perf_counter() - t)
    return out


def set_trigger(url: str, kind: str, on: bool, conninfo: str = "", schema: str = "") -> None:
    if kind == "postgres":
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'ALTER TABLE "{schema}".stored_events {"ENABLE" if on else "DISABLE"} TRIGGER {GAP_TRIGGER}')
    else:
        import sqlite3

        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            if on:
                from adapters.persistence.schema import _SQLITE_GAP_TRIGGER

                conn.execute(_SQLITE_GAP_TRIGGER.format(table="stored_events"))
            else:
                conn.execute(f"DROP TRIGGER IF EXISTS {GAP_TRIGGER}")


def measure(kind: str, url: str, appends: int, rounds: int, conninfo: str = "", schema: str = "") -> None:
    store = open_event_store(url)
    with_gap, without = [], []
    for _ in range(rounds):
        set_trigger(url, kind, True, conninfo, schema)
        with_gap += timed_appends(store, appends // rounds)
        set_trigger(url, kind, False, conninfo, schema)
        without += timed_appends(store, appends // rounds)
    set_trigger(url, kind, True, conninfo, schema)
    store.close()
    a, b = statistics.median(with_gap) * 1000, statistics.median(without) * 1000
    print(f"{kind:<9} append of 3 events: with the gap trigger {a:.3f} ms, without {b:.3f} ms (median of {len(with_gap)}); ratio {a / b:.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--appends", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    schema = f"bench_append_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        measure("postgres", f"{args.url}?schema={schema}", args.appends, args.rounds, args.url, schema)
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{tmp}/bench.db", args.appends, args.rounds)


if __name__ == "__main__":
    main()
