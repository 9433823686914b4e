"""bench/pacing: every dial mode through the real engine on the in-memory store.

Scenario (issue 4): N agents all logged in, 8 h measured after a 15-minute warm-up, seeds 1-5; the
world is WorldParams' defaults (human 0.25, machine 0.15, busy 0.05 at 3 s, unreachable 0.05 at 4 s,
else no answer; ring timeout 25 s; talk lognormal mean/SD 120 s; wrap-up mean 15 s SD 7.5 s;
preview 10 s). Agents click Ready after their wrap-up (the campaign's own wrap-up limit is long).
CPU seconds per simulated 8-hour day are shown beside those of the same world driven by a plain
dialler (bench.plain_world), measured in the same run, and beside what the run's own log costs the
store alone: its events appended again, in its own appends, to a fresh memory store (our mapping
and the library's recorder: "log"). The day does not read its log back: its report is folded as
the engine folds the events (ADR 0044), so the floor has no read either. "of it recorder" is the
part of "log" that the library's recorder alone takes (the same rows inserted, mapped beforehand);
the rest of it is our mapping. "x (plain + log)" is issue 18's simulated-day figure restated against
those two floors. "controller s/8h day" is the CPU spent inside the pacing decisions
(``rules.pacing.decide``) in the same run, timed call by call; "x (plain + log + controller)"
restates the figure against all three. The two floors are timed as timeit times: the heap collected
before each, no collection during.

With ``--store sqlite`` each day runs on its own SQLite file, wired as ``dialer simulate`` wires it
(the persisted queue view, ADR 0007), and the log floor is the same appends to a fresh SQLite file.
"raw commits" is the floor under that one: the run's appends as bare durable transactions in
sqlite3 (the library's settings: write-ahead log, synchronous at its default, FULL), one INSERT of
each append's rows of the stored events' own bytes, built beforehand; what a durable commit of each
step costs before any library or mapping.

    .venv/bin/python -m bench.pacing                 # the full table (about 15 minutes on 2 cores)
    .venv/bin/python -m bench.pacing --agents 20 --seeds 1 2 --modes predictive progressive
    .venv/bin/python -m bench.pacing --agents 20 --seeds 1 2 3 --modes predictive --store sqlite
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import StoredEvent

from adapters.persistence.eventstore import open_event_store
from bench.plain_world import plain_world_cpu
from dialer_domain.model.events import DomainEvent
from dialer_domain.model.values import DialMode
from dialer_domain.rules import pacing_math
from dialer_domain.service_layer import dialling
from dialer_domain.service_layer.repository import iter_log
from entrypoints import bootstrap
from entrypoints.simulate import SimulationConfig, run_simulation

#: (label, mode, power ratio ready, power ratio wrap-up)
VARIANTS: dict[str, tuple[DialMode, float, float]] = {
    "preview": (DialMode.PREVIEW, 1.7, 0.1),
    "auto": (DialMode.AUTO, 1.7, 0.1),
    "progressive": (DialMode.PROGRESSIVE, 1.7, 0.1),
    "power-1.7": (DialMode.POWER, 1.7, 0.1),
    "power-3.0": (DialMode.POWER, 3.0, 0.0),
    "predictive": (DialMode.PREDICTIVE, 1.7, 0.1),
}


def arithmetic() -> str:
    """How pacing's arithmetic (``rules.pacing_math``) runs here: compiled by mypyc or as plain Python (ADR 0043)."""
    return "plain Python" if pacing_math.__file__.endswith(".py") else "compiled by mypyc"


def target_for(agents: int) -> float:
    """The campaign's abandon target: 3% (the default) up to 20 agents, 1% for large teams."""
    return 0.01 if agents >= 50 else 0.03


@contextmanager
def timed_decisions() -> Iterator[list[float]]:
    """CPU seconds inside the dialler's pacing decisions while the block runs: [total, calls]."""
    spent = [0.0, 0.0]
    decide = dialling.decide
    clock = time.process_time

    def timed(*args: Any, **kwargs: Any) -> Any:
        t = clock()
        try:
            return decide(*args, **kwargs)
        finally:
            spent[0] += clock() - t
            spent[1] += 1

    dialling.decide = timed  # type: ignore[assignment]
    try:
        yield spent
    finally:
        dialling.decide = decide


def one(args: tuple[str, int, int, float, float | None, str]) -> dict[str, Any]:
    label, agents, seed, hours, cap, kind = args
    mode, ratio_ready, ratio_wrap = VARIANTS[label]
    cfg = SimulationConfig(
        mode=mode,
        agents=agents,
        contacts=int(agents * (hours + 0.25) * 60 * 1.2) + 200,
        hours=hours,
        warmup_minutes=15,
        seed=seed,
        power_ratio_ready=ratio_ready,
        power_ratio_wrapup=ratio_wrap,
        target_abandon_rate=target_for(agents),
        wrapup_seconds=600,
        abandon_cap=cap,
    )
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        urls = ("memory:",) * 3 if kind == "memory" else tuple(f"sqlite:///{tmp}/{name}.db" for name in ("day", "log", "recorder"))
        return _one(label, agents, seed, hours, cfg, *urls, raw_path=f"{tmp}/raw.db" if kind == "sqlite" else None)


def _one(
    label: str, agents: int, seed: int, hours: float, cfg: SimulationConfig, url: str, twin_url: str, recorder_url: str, raw_path: str | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    cpu = time.process_time()
    store = open_event_store(url)
    sizes: list[int] = []  # each append's number of events, in order
    append = store.append

    def counted(events: Sequence[DomainEvent]) -> list[int]:
        positions = append(events)
        sizes.append(len(positions))
        return positions

    store.append = counted  # type: ignore[method-assign]
    with timed_decisions() as controller:
        r = run_simulation(store, cfg, queue=bootstrap.queue(store, url))
    cpu_run = time.process_time() - cpu
    seconds = time.perf_counter() - started
    s = r.summary
    events = [rec.event for rec in iter_log(store)]  # the run's log, read once for both floors
    assert sum(sizes) == len(events), "a simulated day stores every event by append"
    log = log_cpu(events, sizes, twin_url)
    stored = [store.mapper.to_stored_event(e) for e in events]
    recorder = recorder_cpu(stored, sizes, recorder_url)
    raw = raw_commit_cpu(stored, sizes, raw_path) if raw_path is not None else None
    store.close()  # before its temporary directory goes
    return {
        "variant": label,
        "agents": agents,
        "seed": seed,
        "occupancy": s["occupancy"],
        "talk_min_per_agent_hour": s["talk_minutes_per_agent_hour"],
        "abandon_rate": s["abandon_rate"],
        "dials": s["dials"],
        "events": r.events,
        "appends": len(sizes),
        "seconds": seconds,
        "cpu_seconds": cpu_run,
        "cpu_per_8h_day": cpu_run * 8 / (hours + 0.25),  # issue 18's figure: CPU per simulated 8-hour day
        "log_cpu_per_8h_day": log * 8 / (hours + 0.25),
        "recorder_cpu_per_8h_day": recorder * 8 / (hours + 0.25),
        "raw_commits_cpu_per_8h_day": raw * 8 / (hours + 0.25) if raw is not None else None,
        "controller_cpu_per_8h_day": controller[0] * 8 / (hours + 0.25),
        "decisions": int(controller[1]),
        "pacing_arithmetic": arithmetic(),
    }


@contextmanager
def _timed_collected_first() -> Iterator[list[float]]:
    """CPU seconds spent in the block (``[0]`` once it ends), timed as timeit times: the heap
    collected before, no collection during. (In a process that had run the test suite, one full
    collection of everything else the process held once landed inside a 0.1-hour floor and
    outweighed it.)"""
    gc.collect()
    gc.disable()
    spent = [0.0]
    cpu = time.process_time()
    try:
        yield spent
    finally:
        spent[0] = time.process_time() - cpu
        gc.enable()


def _as_appended(items: Sequence[Any], sizes: list[int]) -> Iterator[Sequence[Any]]:
    """The run's items in its own appends (``sizes``), in order."""
    i = 0
    for n in sizes:
        yield items[i : i + n]
        i += n


def log_cpu(events: Sequence[DomainEvent], sizes: list[int], url: str = "memory:") -> float:
    """What the run's log costs the store alone, in CPU seconds: its events appended in the same
    appends (``sizes``) to a fresh store of the same kind (mapping to stored events and the
    library's recorder). Nothing is read back: the day's report is folded as the day runs (ADR 0044)."""
    twin = open_event_store(url)
    with _timed_collected_first() as spent:
        for batch in _as_appended(events, sizes):
            twin.append(batch)
    twin.close()
    return spent[0]


def recorder_cpu(stored: Sequence[StoredEvent], sizes: list[int], url: str = "memory:") -> float:
    """Of the log's cost, the library's recorder alone, in CPU seconds: the run's events, mapped to
    stored events beforehand (not counted), inserted in the same appends into a fresh store's
    recorder; no encoding."""
    twin = open_event_store(url)
    recorder: Any = twin.recorder
    with _timed_collected_first() as spent:
        for batch in _as_appended(stored, sizes):
            recorder.insert_events(batch)
    twin.close()
    return spent[0]


def raw_commit_cpu(stored: Sequence[StoredEvent], sizes: list[int], path: str) -> float:
    """The floor under the SQLite log, in CPU seconds: the run's appends (``sizes``) as bare durable
    sqlite3 transactions in a fresh file, in the library's settings (write-ahead log, synchronous
    at its default, FULL), each one INSERT of its rows (stream, version, topic and the stored
    bytes, built beforehand) under the log's own key; nothing read back."""
    rows = [(str(e.originator_id), e.originator_version, e.topic, e.state) for e in stored]
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("CREATE TABLE log (stream TEXT, version INTEGER, topic TEXT, state BLOB, PRIMARY KEY (stream, version))")
        with _timed_collected_first() as spent:
            for batch in _as_appended(rows, sizes):
                con.execute("BEGIN")
                con.executemany("INSERT INTO log VALUES (?, ?, ?, ?)", batch)
                con.execute("COMMIT")
    finally:
        con.close()
    return spent[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, nargs="+", default=[5, 20, 50])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--modes", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--store", choices=["memory", "sqlite"], default="memory", help="where each day is stored (sqlite: a file of its own)")
    ap.add_argument("--abandon-cap", default="0.03", help="the campaigns' abandon-rate cap (ADR 0020), or none")
    ap.add_argument("--json", dest="json_out", help="also write every run to this file")
    a = ap.parse_args(argv)
    cap = None if a.abandon_cap == "none" else float(a.abandon_cap)
    jobs = [(m, n, s, a.hours, cap, a.store) for n in a.agents for m in a.modes for s in a.seeds]
    jobs.sort(key=lambda j: -j[1])  # big ones first, for a balanced pool
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        runs = list(pool.map(one, jobs))
    wall = time.perf_counter() - started
    # the floor, in the same run: the same world driven by a plain dialler of a few dicts (bench.plain_world)
    plain = {n: statistics.median(plain_world_cpu(n, a.hours + 0.25, s)[0] * 8 / (a.hours + 0.25) for s in a.seeds) for n in a.agents}
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump(runs, fh, indent=1)
    print(f"bench/pacing: {len(runs)} runs of {a.hours:g} h after 15 min warm-up, seeds {a.seeds}, abandon cap {a.abandon_cap}, store {a.store}")
    print(f"{wall:.0f} s wall on {a.jobs} workers; pacing's arithmetic {', '.join(sorted({r['pacing_arithmetic'] for r in runs}))} (ADR 0043)")
    print("abandon target: 3% up to 20 agents, 1% at 50 (predictive only; the other modes have no target)")
    head = (
        f"{'N':>3} {'mode':<12} {'occupancy':>9} {'talk min/agent-h':>16} {'abandon mean':>12} {'abandon worst':>13} "
        f"{'sim s/run':>9} {'CPU s/8h day':>12} {'x plain world':>13} {'log s/8h day':>12} {'of it recorder':>14} {'x (plain + log)':>15} "
        f"{'decisions':>9} {'controller s/8h day':>19} {'x (plain + log + controller)':>28}"
        + (f" {'raw commits s/8h day':>20}" if a.store == "sqlite" else "")
    )
    print(head)
    print("-" * len(head))
    for n in a.agents:
        prog = None
        for m in a.modes:
            rs = [r for r in runs if r["agents"] == n and r["variant"] == m]
            occ = statistics.median(r["occupancy"] for r in rs)
            talk = statistics.median(r["talk_min_per_agent_hour"] for r in rs)
            ab_mean = statistics.mean(r["abandon_rate"] for r in rs)
            ab_worst = max(r["abandon_rate"] for r in rs)
            secs = statistics.median(r["seconds"] for r in rs)
            cpu_day = statistics.median(r["cpu_per_8h_day"] for r in rs)
            log_day = statistics.median(r["log_cpu_per_8h_day"] for r in rs)
            rec_day = statistics.median(r["recorder_cpu_per_8h_day"] for r in rs)
            decisions = statistics.median(r["decisions"] for r in rs)
            ctl_day = statistics.median(r["controller_cpu_per_8h_day"] for r in rs)
            raw = f" {statistics.median(r['raw_commits_cpu_per_8h_day'] for r in rs):>20.1f}" if a.store == "sqlite" else ""
            if m == "progressive":
                prog = talk
            print(
                f"{n:>3} {m:<12} {occ:>9.3f} {talk:>16.1f} {ab_mean:>12.2%} {ab_worst:>13.2%} {secs:>9.1f} "
                f"{cpu_day:>12.1f} {cpu_day / plain[n]:>13.1f} {log_day:>12.1f} {rec_day:>14.1f} {cpu_day / (plain[n] + log_day):>15.1f} "
                f"{decisions:>9,.0f} {ctl_day:>19.1f} {cpu_day / (plain[n] + log_day + ctl_day):>28.1f}{raw}"
            )
        print(f"{n:>3} {'plain world':<12} {'':>9} {'':>16} {'':>12} {'':>13} {'':>9} {plain[n]:>12.1f} {1:>13.1f}")
        pred = [r for r in runs if r["agents"] == n and r["variant"] == "predictive"]
        if prog and pred:
            gain = statistics.median(r["talk_min_per_agent_hour"] for r in pred) / prog
            print(f"{n:>3} predictive gain over progressive (talk minutes per agent-hour, medians): x{gain:.2f}")
    print("(occupancy and talk: median over seeds; abandon: mean and worst seed)")
    print("(plain world: the same simulated calls and agents driven by a progressive dialler of a few dicts, no store or rules: the floor)")
    print(f"(log: the run's own events appended again in its own appends to a fresh {a.store} store: what the store alone costs; nothing read back)")
    print("(of it recorder: the same inserts by the library's recorder alone, the events mapped beforehand; the rest is our mapping)")
    print("(controller: CPU inside the pacing decisions, rules.pacing.decide, timed call by call in the same run; decisions: how many)")
    if a.store == "sqlite":
        print("(raw commits: the run's appends as bare durable sqlite3 transactions, one INSERT each, the library's settings: the floor under log)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
