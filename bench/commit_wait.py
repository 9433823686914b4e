"""bench/commit_wait: what a view page's commit waits for on PostgreSQL (ADR 0033, ADR 0034).

A page the engine writes about once a step, shaped as the queue view's: one statement with the
compare-and-set of a tracking row and an upsert of a few rows, on an autocommit connection. It is timed as the
events' commits are made (waiting for the disk) and as view pages are (``synchronous_commit``
off), alternating rounds so that both see the same machine. A ``SELECT 1`` gives the round trip.
Medians in ms; the ratio is taken round by round.

    .venv/bin/python -m bench.commit_wait                       # postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.commit_wait --url postgresql://... --rounds 9 --pages 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid

import psycopg


def run(url: str, rounds: int, pages: int, rows: int) -> dict[str, float]:
    table = f"bench_commit_wait_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table}_trk (name TEXT PRIMARY KEY, n BIGINT NOT NULL)")
        conn.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, v TEXT NOT NULL)")
        conn.execute(f"INSERT INTO {table}_trk VALUES ('view', 0)")
        position = 0

        def page(wait_for_disk: bool) -> None:
            nonlocal position
            unsynced = "" if wait_for_disk else "unsynced AS (SELECT set_config('synchronous_commit', 'off', true) AS s), "
            values = ", ".join(["(%s::integer, %s::text)"] * rows)
            found = conn.execute(
                f"WITH {unsynced}cas AS (UPDATE {table}_trk SET n = %s WHERE name = 'view' AND n = %s RETURNING n), "
                f"up AS (INSERT INTO {table} SELECT * FROM (VALUES {values}) AS v WHERE EXISTS (SELECT 1 FROM cas) "
                "ON CONFLICT (id) DO UPDATE SET v = excluded.v) "
                f"SELECT (SELECT n FROM cas) AS n{'' if wait_for_disk else ', (SELECT s FROM unsynced) AS s'}",
                [position + 1, position, *(x for i in range(rows) for x in (i, str(position)))],
            ).fetchone()
            if found is None or found[0] != position + 1:
                raise RuntimeError("the tracking row moved: another writer?")
            position += 1

        def timed(f: object, n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                f()  # type: ignore[operator]
            return (time.perf_counter() - started) / n * 1000

        synced: list[float] = []
        unsynced: list[float] = []
        trip: list[float] = []
        try:
            for _ in range(rounds):
                synced.append(timed(lambda: page(True), pages))
                unsynced.append(timed(lambda: page(False), pages))
                trip.append(timed(lambda: conn.execute("SELECT 1").fetchall(), pages))
        finally:
            conn.execute(f"DROP TABLE {table}, {table}_trk")
    return {
        "synced": statistics.median(synced),
        "unsynced": statistics.median(unsynced),
        "trip": statistics.median(trip),
        "ratio": statistics.median(u / s for u, s in zip(unsynced, synced, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.commit_wait", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--pages", type=int, default=500, help="pages per round and kind")
    ap.add_argument("--rows", type=int, default=8, help="rows a page upserts")
    a = ap.parse_args(argv)
    r = run(a.url, a.rounds, a.pages, a.rows)
    print(f"bench/commit_wait: {a.rounds} rounds of {a.pages} pages of {a.rows} rows, medians")
    print(f"  page, commit waits for the disk      {r['synced']:.3f} ms")
    print(f"  page, synchronous_commit off         {r['unsynced']:.3f} ms   (ADR 0034: a view's page)")
    print(f"  SELECT 1 (one round trip)            {r['trip']:.3f} ms")
    print(f"  off / waiting, round by round        {r['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
