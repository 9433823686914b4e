"""bench/import: a generated CSV with two numbers per row imported into PostgreSQL, validation
included, end to end (the same `import_file` the CLI and the API use). Reports contacts/s; its
ratio to the ceiling (the number of checking workers times phonenumbers' own single-core rate for
the same rows, measured in the same run); CPU per row by process (workers, importer, the rest of
the machine: PostgreSQL); and the peak memory of the importing process and of its number-checking
workers, for two file sizes, so that flat memory shows as equal peaks.

It also measures the floor, in the same run: what reading the CSV (the csv module) and storing the
events (a COPY of the import's own ContactImported rows into a table with the events table's
columns and indexes) cost alone, and from them the most this machine's cores allow against the
ceiling, were the workers to do nothing but phonenumbers' work and the importer nothing but read
and store. And it runs phonenumbers' own work in as many processes at once as there are workers:
on this virtual machine two busy cores each run slower than one alone, which the ceiling (one
core's rate, times two) does not see; the import's rate is given against that too ("/ at once").
Last, it says how much CPU a row 0.8 of the ceiling leaves for the import's own work (the cores'
CPU a row at that rate, less phonenumbers, the CSV read and the COPY), beside what that work takes.

    .venv/bin/python -m bench.import                          # 100,000 and 1,000,000 rows
    .venv/bin/python -m bench.import --rows 200000 --url postgresql://...
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg


def make_csv(path: Path, rows: int, seed: int = 1) -> None:
    """Valid Danish numbers only (drawn, then kept if phonenumbers accepts them), written as people
    write them: one with +45 and spaces, one bare."""
    import phonenumbers

    rng = random.Random(seed)

    def number(first: str) -> str:
        while True:
            n = f"{first}{rng.randrange(10**7):07d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(n, "DK")):
                return n

    with open(path, "w", encoding="utf-8") as fh:
        fh.write("id,name,mobile,landline,segment,city\n")
        for i in range(rows):
            m, land = number(rng.choice("2345678")), number(rng.choice("3456789"))
            fh.write(f"c{i:08d},Contact {i},+45 {m[:2]} {m[2:4]} {m[4:6]} {m[6:]},{land},{rng.choice('ABCD')},City {i % 97}\n")


def one(url: str, schema: str, path: Path, workers: int) -> dict[str, float]:
    """Run in a fresh process so that peak memory is this import's own."""
    code = f"""
import json, resource, time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4
from adapters.persistence.eventstore import open_event_store
from adapters.lists.importer import import_file
from dialer_domain.service_layer.repository import Repository
from dialer_domain.service_layer.handlers import CampaignSpec, create_campaign
from dialer_domain.model.values import CampaignSettings, DialMode, ImportMode, ListMapping
url = {url + "?schema=" + schema!r}
store = open_event_store(url)
repo = Repository(store)
now = datetime.now(UTC)
c = create_campaign(repo, CampaignSpec(name="Bench import", manager="bench", dial_mode=DialMode.POWER),
                    settings=CampaignSettings(skill="bench"), hours=None, at=now)
c.set_list_mapping(ListMapping(key="id", phones=("mobile", "landline"), name="name"), now)
repo.save(c)
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from importlib import import_module
busy = import_module("bench.import")._busy
b0 = busy()
t = time.perf_counter()
report, rejects = import_file(store, c.id, Path({str(path)!r}), mode=ImportMode.APPEND, at=now, ids=uuid4, workers={workers})
elapsed = time.perf_counter() - t
machine = busy() - b0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"rows": report.rows, "added": report.added, "rejected": report.rejected, "seconds": elapsed,
  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
  "workers_peak_mib": kids.ru_maxrss / 1024,
  "cpu_importer": me.ru_utime + me.ru_stime, "cpu_workers": kids.ru_utime + kids.ru_stime, "cpu_machine": machine}}))
"""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the import failed:\n{proc.stderr[-3000:]}")
    out = proc.stdout
    import json

    return dict(json.loads(out.strip().splitlines()[-1]))


def checking_alone(path: Path, events: bool = False) -> float:
    """Rows/s of a worker's job alone on one core (read, validate, and with ``events`` make each
    row's ContactImported as the import does; no writing)."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from adapters.lists.files import read_rows
    from adapters.lists.rows import Prepare, validate_chunk
    from dialer_domain.model.values import ListMapping

    mapping = ListMapping(key="id", phones=("mobile", "landline"), name="name")
    prep = Prepare(uuid4(), "import:bench", datetime.now(UTC)) if events else None
    rows = list(read_rows(path, mapping))
    started = time.process_time()
    out = validate_chunk((mapping, "DK", rows, prep))
    return len(out) / (time.process_time() - started)


def phonenumbers_alone(path: Path) -> float:
    """Rows/s of phonenumbers' own work for two numbers a row (parse, is_valid_number,
    format_number to E.164) on one core: no import can check rows faster than this per core. The
    library is set up as the import sets it up (its pattern cache on: ``adapters.lists.phone``)."""
    import phonenumbers

    import adapters.lists.phone  # noqa: F401 - the import's own set-up of the library

    with open(path, encoding="utf-8") as fh:
        texts = [line.split(",")[2:4] for line in fh.read().splitlines()[1:]]
    e164 = phonenumbers.PhoneNumberFormat.E164
    started = time.process_time()
    for pair in texts:
        for text in pair:
            parsed = phonenumbers.parse(text, "DK")
            if phonenumbers.is_valid_number(parsed):
                phonenumbers.format_number(parsed, e164)
    return len(texts) / (time.process_time() - started)


def _phonenumbers_timed(path: Path, barrier: Any, out: Any) -> None:
    barrier.wait()
    out.put(phonenumbers_alone(path))


def phonenumbers_parallel(path: Path, n: int) -> float:
    """Rows/s of phonenumbers' own work in ``n`` processes at once, started together, each on the
    whole sample (the sum of their rates, each by its own CPU time as the one-core reference is):
    what ``n`` cores give when all of them are busy. On a virtual machine whose cores share the
    host's, that is less than ``n`` times one core's rate alone."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_phonenumbers_timed, args=(path, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    rates = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return float(sum(rates))


def csv_alone(path: Path) -> float:
    """Rows/s of reading the file with the csv module alone, one core: what any importer spends
    before a row is checked."""
    import csv

    started = time.process_time()
    with open(path, encoding="utf-8", newline="") as fh:
        rows = sum(1 for _ in csv.reader(fh))
    return (rows - 1) / (time.process_time() - started)


def _busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def copy_alone(url: str, schema: str, rows: int = 100_000) -> tuple[float, float]:
    """CPU us a row of storing the import's events and nothing else: the last import's
    ContactImported rows, read into memory first, COPYed (binary, as the store does) into a table
    with the events table's columns, defaults and indexes (not its triggers), in one transaction. Returns (this process,
    the rest of the machine: PostgreSQL)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("DROP TABLE IF EXISTS bench_floor_events")
        conn.execute("CREATE TABLE bench_floor_events (LIKE stored_events INCLUDING DEFAULTS INCLUDING INDEXES)")
        cols = "originator_id, originator_version, topic, state"
        data = conn.execute(f"SELECT {cols} FROM stored_events WHERE topic = 'ContactImported' ORDER BY notification_id LIMIT %s", (rows,)).fetchall()
        cpu, busy = time.process_time(), _busy()
        with conn.transaction(), conn.cursor() as curs, curs.copy(f"COPY bench_floor_events ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])  # as the store's bulk append (binary COPY)
            for row in data:
                copy.write_row(row)
        cpu, busy = time.process_time() - cpu, _busy() - busy
        conn.execute("DROP TABLE bench_floor_events")
    n = len(data)
    return cpu / n * 1e6, max(0.0, busy - cpu) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--schema", default="bench_import")
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the one-core references, taken in turn (medians)")
    a = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.rows:
            path = Path(tmp) / f"list-{n}.csv"
            make_csv(path, n)
            r = one(a.url, a.schema, path, a.workers)
            results.append(r)
            path.unlink()
        copy_client, copy_server = copy_alone(a.url, a.schema)
        sample = Path(tmp) / "sample.csv"
        make_csv(sample, min(a.rows[0], 20_000), seed=7)
        rounds = [
            (
                checking_alone(sample),
                checking_alone(sample, events=True),
                phonenumbers_alone(sample),
                csv_alone(sample),
                phonenumbers_parallel(sample, a.workers),
            )
            for _ in range(a.rounds)
        ]
        check_rate, work_rate, pn_rate, csv_rate, parallel = (statistics.median(r[i] for r in rounds) for i in range(5))
    ceiling = a.workers * pn_rate
    pn_us, csv_us = 1e6 / pn_rate, 1e6 / csv_rate
    least = pn_us + csv_us + copy_client + copy_server  # CPU a row with nothing of ours: check, read, store
    cores = os.cpu_count() or 1
    most = min(1.0, cores * pn_us / (a.workers * least))  # cores / least rows per us, against workers / pn_us
    print(f"bench/import: CSV with two numbers per row into PostgreSQL, validation included, {a.workers} checking workers, {os.cpu_count()} cores")
    print(f"  one-core references, same run, medians of {a.rounds} rounds taken in turn:")
    print(f"  reference, same run: phonenumbers' own work alone (two numbers a row, one core) {pn_rate:,.0f} rows/s")
    print(f"  ceiling = {a.workers} workers x that                                           {ceiling:,.0f} rows/s")
    at_once = f"{parallel:,.0f} rows/s ({parallel / pn_rate:.2f} x one core alone)"
    print(f"  reference, same run: phonenumbers' own work in {a.workers} processes at once         {at_once}")
    print(f"  reference, same run: a worker's whole job alone (check + make the event, one core) {work_rate:,.0f} rows/s")
    print(f"  reference, same run: checking alone (one core, no event, no writing)          {check_rate:,.0f} rows/s")
    print(
        f"{'rows':>10} {'added':>10} {'seconds':>8} {'contacts/s':>11} {'/ ceiling':>9} {'/ at once':>9} {'peak MiB importer':>18} {'a worker':>9}"
        f" {'CPU us/row: workers':>20} {'importer':>9} {'rest (PostgreSQL)':>18}"
    )
    for r in results:
        n = r["rows"]
        rest = max(0.0, r["cpu_machine"] - r["cpu_importer"] - r["cpu_workers"])
        print(
            f"{int(n):>10} {int(r['added']):>10} {r['seconds']:>8.1f} {n / r['seconds']:>11,.0f} {n / r['seconds'] / ceiling:>9.2f} "
            f"{n / r['seconds'] / parallel:>9.2f} "
            f"{r['peak_mib']:>18.0f} {r['workers_peak_mib']:>9.0f} "
            f"{r['cpu_workers'] / n * 1e6:>20.0f} {r['cpu_importer'] / n * 1e6:>9.0f} {rest / n * 1e6:>18.0f}"
        )
    worker_us = 1e6 / work_rate
    print(f"  phonenumbers' own CPU per row: {pn_us:.1f} us; a worker's whole job alone: {worker_us:.1f} us ({pn_us / worker_us:.2f} of it theirs)")
    print(f"  floor, same run: reading the CSV alone (csv module, one core)                  {csv_us:.1f} us/row")
    print(f"  floor, same run: COPY of the import's events alone (client / PostgreSQL)      {copy_client:.1f} / {copy_server:.1f} us/row")
    print(
        f"  most a {cores}-core machine allows: {cores} cores / (phonenumbers + CSV + COPY, {least:.1f} us a row) against the ceiling = {most:.2f}"
        " (workers that did nothing but phonenumbers, an importer that only read and stored)"
    )
    busy = parallel / (a.workers * pn_rate)
    print(f"  with every core busy, each gives {busy:.2f} of its rate alone (phonenumbers at once): the most is then {most * busy:.2f}")
    goal = cores * 1e6 / (0.8 * ceiling)  # the machine's CPU a row at 0.8 of the ceiling
    left = goal - least
    print(f"  at 0.8 of the ceiling the {cores} cores have {goal:.1f} us a row: {left:.1f} us is left for all the import's own work, which now takes")
    for r in results:
        ours = max(r["cpu_machine"], r["cpu_importer"] + r["cpu_workers"]) / r["rows"] * 1e6 - least
        print(f"    {int(r['rows']):>10} rows: {ours:.1f} us a row (the machine's CPU a row, less phonenumbers + CSV + COPY)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
