"""`dialer api` and `dialer simulate`: run the HTTP API, or a simulated day through the real engine."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dialer_domain.model.errors import DomainError
from dialer_domain.model.values import DialMode
from entrypoints import bootstrap
from entrypoints.cli.common import _fail, app, console, err_console, parse_abandon_cap


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the HTTP API (contacts, list uploads, assignment); OpenAPI at /docs."""
    import uvicorn

    uvicorn.run("entrypoints.api:app", host=host, port=port)


@app.command()
def simulate(
    mode: Annotated[DialMode, typer.Option(help="Dial mode to simulate.")] = DialMode.PREDICTIVE,
    agents: Annotated[int, typer.Option(min=1, max=2000, help="Simulated agents, all logged in.")] = 10,
    contacts: Annotated[
        int | None, typer.Option(min=1, help="Contacts in the list (default: enough for the agents and hours, 100 per agent-hour).")
    ] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24.0, help="Length of the campaign day.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 1,
    day: Annotated[str, typer.Option(help="Simulated date (campaign time zone Europe/Copenhagen, opens 09:00).")] = "2026-11-23",
    compare: Annotated[bool, typer.Option("--compare", help="Run all five modes side by side.")] = False,
    p_human: Annotated[float, typer.Option(min=0.0, max=1.0, help="P(human answers).")] = 0.25,
    p_machine: Annotated[float, typer.Option(min=0.0, max=1.0, help="P(answering machine).")] = 0.15,
    p_busy: Annotated[float, typer.Option(min=0.0, max=1.0, help="P(busy).")] = 0.05,
    p_unreachable: Annotated[float, typer.Option(min=0.0, max=1.0, help="P(unreachable).")] = 0.05,
    talk_mean: Annotated[float, typer.Option(min=1.0, help="Mean talk seconds.")] = 120.0,
    wrap_mean: Annotated[float, typer.Option(min=0.0, help="Mean wrap-up seconds.")] = 15.0,
    power_ratio: Annotated[float, typer.Option(min=0.1, max=10.0, help="Power mode: calls per ready agent.")] = 1.7,
    target_abandon: Annotated[float, typer.Option(min=0.001, max=0.5, help="Predictive: target abandon rate.")] = 0.03,
    calling_policy: Annotated[str, typer.Option(help="The callee's local hours: us_tcpa, fr or none (ADR 0014).")] = "us_tcpa",
    abandon_cap: Annotated[
        str, typer.Option(help="The rolling abandon rate pacing never passes (24 hours and 30 days), or none (ADR 0020).")
    ] = "0.03",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run a simulated campaign day through the real engine and store, then print the report."""
    from adapters.persistence.engine_lock import EngineAlreadyRunning, engine_lock
    from adapters.telephony.simulated import WorldParams
    from entrypoints.simulate import SimulationConfig, run_simulation

    try:
        world = WorldParams(
            p_human=p_human,
            p_machine=p_machine,
            p_busy=p_busy,
            p_unreachable=p_unreachable,
            talk_mean=talk_mean,
            talk_sd=talk_mean,
            wrap_mean=wrap_mean,
            wrap_sd=wrap_mean / 2,
        )
    except ValueError as exc:
        _fail(str(exc))
    cap = parse_abandon_cap(abandon_cap)
    modes = list(DialMode) if compare else [mode]
    contacts = contacts or max(500, round(agents * hours * 100))
    results = []
    url = bootstrap.database_url()
    # measured (ADR 0004, 2026-11-23): about 0.7 s per agent-hour on SQLite, 0.3 s in memory, on 2 cores
    estimate = len(modes) * agents * hours * (0.3 if url.startswith("memory") else 0.7)
    if estimate > 30:
        err_console.print(f"simulating {len(modes)} day(s) of {agents} agents x {hours:g} h: expect about {estimate / 60:.0f} min on this store")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        for m in modes:
            task = bar.add_task(f"{m.value:<11} {agents} agents, {hours:g} h", total=1.0)
            try:
                store = bootstrap.store(url)
            except (ValueError, bootstrap.StoreUnavailable) as exc:
                _fail(str(exc))
            try:
                cfg = SimulationConfig(
                    mode=m,
                    agents=agents,
                    contacts=contacts,
                    hours=hours,
                    seed=seed,
                    day=day,
                    world=world,
                    power_ratio_ready=power_ratio,
                    target_abandon_rate=target_abandon,
                    calling_policy=calling_policy,
                    abandon_cap=cap,
                )
                with engine_lock(store):
                    r = run_simulation(store, cfg, progress=partial(_advance, bar, task), queue=bootstrap.queue(store, url))
            except (DomainError, ValueError, EngineAlreadyRunning) as exc:
                _fail(str(exc))
            finally:
                store.close()
            bar.update(task, completed=1.0)
            results.append((m, r))
    if as_json:
        print(json.dumps({m.value: {"campaign": r.campaign_name, **r.summary} for m, r in results}, indent=2))
        return
    table = Table(title=f"Simulated day: {agents} agents, {hours:g} h, seed {seed}, store {url}")
    table.add_column("figure")
    for m, _ in results:
        table.add_column(m.value, justify="right")
    rows = [
        ("dials", "dials", "{:d}"),
        ("human answers", "human_answers", "{:d}"),
        ("machine answers", "machine_answers", "{:d}"),
        ("busy / no answer / failed", None, None),
        ("connected to an agent", "connects", "{:d}"),
        ("abandoned (silent) calls", "abandons", "{:d}"),
        ("abandon rate", "abandon_rate", "{:.2%}"),
        ("agent occupancy", "occupancy", "{:.1%}"),
        ("talk minutes per agent-hour", "talk_minutes_per_agent_hour", "{:.1f}"),
        ("mean wait between calls (s)", "mean_wait_between_calls_s", "{:.1f}"),
        ("callbacks set / kept on time / late / missed", None, None),
        ("dials outside the callee's hours (re-checked)", None, None),
        ("dials refused, by rule", None, None),
        ("abandon rate, rolling 24 h / 30 days", None, None),
    ]
    for label, key, fmt in rows:
        cells = []
        for _, r in results:
            s = r.summary
            if label.startswith("busy"):
                cells.append(f"{s['busy']} / {s['no_answer']} / {s['failed']}")
            elif label.startswith("callbacks"):
                cells.append(f"{s['callbacks_set']} / {s['callbacks_kept']} / {s['callbacks_late']} / {s['callbacks_missed']}")
            elif label.startswith("dials outside"):
                cells.append(str(s["compliance"]["dials_outside_callee_hours"]))
            elif label.startswith("dials refused"):
                cells.append(", ".join(f"{k}: {v}" for k, v in s["compliance"]["dials_refused_by_rule"].items()) or "none")
            elif label.startswith("abandon rate, rolling"):
                a = s["compliance"]["abandon_rate"]
                cells.append(" / ".join("-" if a[w]["rate"] is None else f"{a[w]['rate']:.2%}" for w in ("rolling_24_hours", "rolling_30_days")))
            else:
                assert key is not None and fmt is not None
                cells.append(fmt.format(s[key]))
        table.add_row(label, *cells)
    console.print(table)
    for m, r in results:
        console.print(f"{m.value}: campaign '{r.campaign_name}', {r.events} events recorded; replay with: dialer audit campaign '{r.campaign_name}'")


def _advance(bar: Progress, task: Any, fraction: float) -> None:
    bar.update(task, completed=fraction)


def main() -> None:  # pragma: no cover
    app()
