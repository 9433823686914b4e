"""`dialer stats`: statistics (R19), their rebuild and follower."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from entrypoints import bootstrap
from entrypoints.cli.common import _fail, _open, console, err_console, stats_app

if TYPE_CHECKING:
    from adapters.statistics import AgentFigures, CampaignFigures


class By(StrEnum):
    hour = "hour"
    agent = "agent"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _progress_bar(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total} events"), TimeElapsedColumn(), console=console)


@stats_app.command("show")
def stats_show(
    campaign: Annotated[str, typer.Option(help="Campaign name.")],
    day: Annotated[str, typer.Option(help="Day in the campaign's time zone, YYYY-MM-DD.")],
    by: Annotated[By, typer.Option(help="Rows per hour of the day, or per agent.")] = By.hour,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Show a campaign's figures for one day (the view is brought up to date first)."""
    from adapters import projections
    from adapters.statistics import CampaignFigures
    from dialer_domain.ports import campaign_id_for

    url = bootstrap.database_url()
    with _open(url) as (_, store):
        datetime.fromisoformat(day)
        view = projections.open_view(url)
        projections.catch_up(store, view)
        cid = str(campaign_id_for(campaign))
        if cid not in view.campaign_names():
            raise ValueError(f"no campaign named {campaign!r} in the statistics")
        camp, agents = projections.figures_from_counters(view.counters(kind="campaign_hour", k1=cid, k2=day) + view.counters(kind="agent_day"))
    rows: list[dict[str, Any]] = []
    if by is By.hour:
        total = CampaignFigures()
        for (_, _, hour), fig in sorted(camp.items()):
            rows.append({"hour": f"{hour:02d}", **_campaign_row(fig)})
            total.add(fig)
        rows.append({"hour": "day", **_campaign_row(total)})
    else:
        for (agent, d), afig in sorted(agents.items()):
            if d == day and cid in afig.campaign_connects:
                rows.append({"agent": agent, **_agent_row(afig)})
    _emit(rows, fmt, f"{campaign} on {day} by {by.value}")


def _campaign_row(f: CampaignFigures) -> dict[str, Any]:
    return {
        "dials": f.dials,
        "human": f.human,
        "machine": f.machine,
        "busy": f.busy,
        "no_answer": f.no_answer,
        "failed": f.failed,
        "connects": f.connects,
        "abandons": f.abandons,
        "abandon_rate": round(f.abandon_rate, 4),
        "talk_min": round(f.talk_seconds / 60, 1),
        "wrapup_min": round(f.wrapup_seconds / 60, 1),
        "callbacks_set": f.callbacks_set,
        "callbacks_kept": f.callbacks_kept,
        "callbacks_late": f.callbacks_late,
        "callbacks_missed": f.callbacks_missed,
        "dispositions": " ".join(f"{k}={v}" for k, v in sorted(f.dispositions.items())),
    }


def _agent_row(a: AgentFigures) -> dict[str, Any]:
    return {
        "logged_in_min": round(a.logged_in_seconds / 60, 1),
        "connects": a.connects,
        "talk_min": round(a.talk_seconds / 60, 1),
        "wrapup_min": round(a.seconds.get("wrap_up", 0.0) / 60, 1),
        "ready_min": round(a.seconds.get("ready", 0.0) / 60, 1),
        "occupancy": round(a.occupancy, 4),
        "pause_min": " ".join(f"{k}={v / 60:.1f}" for k, v in sorted(a.pause_seconds.items())),
    }


def _emit(rows: list[dict[str, Any]], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        print(json.dumps(rows, indent=2))
    elif fmt is Format.csv:
        import csv
        import sys

        if rows:
            w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    else:
        table = Table(title=title)
        for col in rows[0] if rows else ["(no figures)"]:
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(*(str(v) for v in r.values()))
        console.print(table)


class ProjectionName(StrEnum):
    statistics = "statistics"
    queue = "queue"


@stats_app.command("rebuild")
def stats_rebuild(
    projection: Annotated[ProjectionName, typer.Option(help="Which projection to regenerate.")] = ProjectionName.statistics,
    batch: Annotated[int, typer.Option(help="Events per transaction.")] = 5000,
) -> None:
    """Regenerate a view (the statistics or the engine's queue) from position 0 beside the live
    one, then switch (safe while the engine writes)."""
    from adapters import projections

    url = bootstrap.database_url()
    with _open(url) as (_, store):
        view = projections.open_view(url, projection.value)
        with _progress_bar(f"rebuilding {projection.value}") as bar:
            task = bar.add_task("rebuild", total=store.max_position())
            gen, done = projections.rebuild(store, view, batch, progress=lambda pos, head: bar.update(task, completed=pos, total=head))
    console.print(f"{projection.value}: generation {gen} is live, {done} events folded")


@stats_app.command("follow")
def stats_follow(
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    projection: Annotated[ProjectionName, typer.Option(help="Which view to keep current.")] = ProjectionName.statistics,
) -> None:
    """Keep a view current as events arrive (PostgreSQL: woken by the store's notifications; SQLite:
    catching up every half second); Ctrl-C stops. Prints what it folded and how far behind the log
    it is. The queue view is also kept current by the engine itself; a follower lets the engine
    start with it current after a large import."""
    from adapters import projections

    def report(now: int, total: int, lag: int) -> None:
        err_console.print(f"folded {now} events ({total} since start); {lag} behind the log")

    try:
        total = projections.follow(bootstrap.database_url(), timeout=timeout, projection=projection.value, progress=report)
    except ValueError as exc:
        _fail(str(exc))
    err_console.print(f"stopped: {total} events folded into the {projection.value} view")
