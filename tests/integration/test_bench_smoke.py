"""The benchmarks issue 18 reports run to the end and print what their notes quote, at a size of
seconds: bench/pacing on the memory store beside the plain world, bench/engine on PostgreSQL with
its ratios to the raw INSERT and the library's append. (A change to the engine's API once broke
the plain world's agents, and nothing but a benchmark run would have seen it.)"""

from __future__ import annotations

from uuid import uuid4

import psycopg


def test_bench_pacing_prints_cpu_per_day_beside_the_plain_world(capsys):
    from bench import pacing

    assert pacing.main(["--agents", "3", "--seeds", "1", "--modes", "predictive", "progressive", "--hours", "0.1", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert " 3 predictive " in out and " 3 progressive " in out and " 3 plain world " in out


def test_bench_engine_prints_its_rates_and_ratios(pg_server_url, capsys):
    from bench import engine

    name = f"bench_smoke_{uuid4().hex[:10]}"
    try:
        args = ["--server", pg_server_url, "--database", name, "--contacts", "300", "--agents", "20", "--warmup", "0.5", "--minutes", "0.5"]
        assert engine.main([*args, "--drain-ms", "100"]) == 0
        out = capsys.readouterr().out
        for what in ("dials/s", "appends per dial", "stream queries per dial", "pacing runs per dial", "PostgreSQL transactions per dial",
                     "answer -> bridge", "dials/s / raw INSERT/s", "appends/s / library appends/s"):
            assert what in out, what
        dials = next(line for line in out.splitlines() if line.strip().startswith("dials ") and "wall" in line)
        assert int(dials.split()[1].replace(",", "")) > 0, dials
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
