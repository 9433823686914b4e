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
    from dialer_domain.rules.figures import AgentFigures, CampaignFigures


class By(StrEnum):
    hour = "hour"
    agent = "agent"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _progress_bar(label: str) -> Progress:
    """Progress through the log, on stderr (never mixed into a command's output)."""
    return Progress(
        TextColumn(label), BarColumn(), TextColumn("log position {task.completed}/{task.total}"), TimeElapsedColumn(), console=err_console
    )


@stats_app.command("show")
def stats_show(
    campaign: Annotated[str | None, typer.Option(help="Campaign name (default: every campaign).")] = None,
    day: Annotated[str | None, typer.Option(help="Day in the campaign's time zone, YYYY-MM-DD (default: each campaign's today).")] = None,
    by: Annotated[By, typer.Option(help="Rows per hour of the day, or per agent.")] = By.hour,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Show campaigns' figures for a day (the view is brought up to date first, with its progress
    on stderr when it has much to fold)."""
    from uuid import UUID

    from adapters.views import statistics as projections
    from dialer_domain.model.campaign import Campaign
    from dialer_domain.rules.figures import CampaignFigures
    from dialer_domain.rules.schedule import zone
    from dialer_domain.service_layer.handlers import campaign_named

    url = bootstrap.database_url()
    if day is not None:
        try:
            datetime.fromisoformat(day).date()
        except ValueError:
            _fail(f"--day {day!r} is not a date like 2026-11-23")
    with _open(url) as (repo, store):
        view = bootstrap.view(url)
        behind = store.max_position() - view.gen_position(view.live_generation())
        if behind > 20000:
            with _progress_bar("bringing the statistics up to date") as bar:
                task = bar.add_task("catch up", total=store.max_position())
                projections.catch_up(store, view, progress=lambda pos, head: bar.update(task, completed=pos, total=head))
        else:
            projections.catch_up(store, view)
        names = view.campaign_names()
        if campaign is not None:
            wanted = [campaign_named(repo, campaign)]
            if str(wanted[0].id) not in names:
                names[str(wanted[0].id)] = wanted[0].name  # nothing counted yet: an empty report, not an error
        else:
            wanted = [repo.get(Campaign, UUID(cid)) for cid in names]
        now = bootstrap.WallClock().now()
        rows: list[dict[str, Any]] = []
        agents_counters = view.counters(kind="agent_day") if by is By.agent else []
        for c in sorted(wanted, key=lambda c: c.name):
            cday = day or (now.astimezone(zone(c.hours.time_zone)) if c.hours else now).date().isoformat()
            camp, agents = projections.figures_from_counters(view.counters(kind="campaign_hour", k1=str(c.id), k2=cday) + agents_counters)
            first = {"campaign": c.name, "day": cday} if len(wanted) > 1 or campaign is None else {}
            if by is By.hour:
                total = CampaignFigures()
                for (_, _, hour), fig in sorted(camp.items()):
                    rows.append({**first, "hour": f"{hour:02d}", **_campaign_row(fig)})
                    total.add(fig)
                rows.append({**first, "hour": "day", **_campaign_row(total)})
            else:
                for (agent, d), afig in sorted(agents.items()):
                    if d == cday and str(c.id) in afig.campaign_connects:
                        rows.append({**first, "agent": agent, **_agent_row(afig)})
    what = campaign or "every campaign"
    columns = (["campaign", "day"] if campaign is None else []) + (
        ["hour", *_campaign_row(CampaignFigures())] if by is By.hour else ["agent", *_agent_row(None)]
    )
    _emit(rows, fmt, f"{what} on {day or 'today'} by {by.value}", columns)


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
        "successes": f.successes,
        "dispositions": " ".join(f"{k}={v}" for k, v in sorted(f.dispositions.items())),
    }


def _agent_row(a: AgentFigures | None) -> dict[str, Any]:
    if a is None:  # the columns alone
        from dialer_domain.rules.figures import AgentFigures

        a = AgentFigures()
    return {
        "logged_in_min": round(a.logged_in_seconds / 60, 1),
        "connects": a.connects,
        "talk_min": round(a.talk_seconds / 60, 1),
        "wrapup_min": round(a.seconds.get("wrap_up", 0.0) / 60, 1),
        "ready_min": round(a.seconds.get("ready", 0.0) / 60, 1),
        "occupancy": round(a.occupancy, 4),
        "pause_min": " ".join(f"{k}={v / 60:.1f}" for k, v in sorted(a.pause_seconds.items())),
    }


def _emit(rows: list[dict[str, Any]], fmt: Format, title: str, columns: list[str] | None = None) -> None:
    """Rows as a table, CSV or JSON on stdout; CSV has its header even with no rows."""
    if fmt is Format.json:
        print(json.dumps(rows, indent=2))
    elif fmt is Format.csv:
        import csv
        import sys

        fields = list(rows[0]) if rows else list(columns or [])
        if fields:
            w = csv.DictWriter(sys.stdout, fieldnames=fields)
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
    batch: Annotated[int, typer.Option(help="Events per page, one transaction each (larger pages write each row they touch less often).")] = 20_000,
) -> None:
    """Regenerate a view (the statistics or the engine's queue) from position 0 beside the live
    one, then switch (safe while the engine writes)."""
    from adapters.views import statistics as projections

    url = bootstrap.database_url()
    with _open(url) as (_, store):
        view = bootstrap.view(url, projection.value)
        head = store.max_position()
        with _progress_bar(f"rebuilding {projection.value}") as bar:
            task = bar.add_task("rebuild", total=head)
            gen, done = projections.rebuild(store, view, batch, progress=lambda pos, top: bar.update(task, completed=pos, total=top))
            head = max(head, store.max_position())
            bar.update(task, completed=head, total=head)
    console.print(f"{projection.value}: generation {gen} is live; read the log to position {head}, folded the {done} events it counts")


@stats_app.command("follow")
def stats_follow(
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    projection: Annotated[ProjectionName, typer.Option(help="Which view to keep current.")] = ProjectionName.statistics,
) -> None:
    """Keep a view current as events arrive (PostgreSQL: woken by the store's notifications; SQLite:
    catching up every half second); Ctrl-C stops. Prints what it folded and how far behind the log
    it is. The queue view is also kept current by the engine itself; a follower lets the engine
    start with it current after a large import."""
    from adapters.views import statistics as projections

    def report(now: int, total: int, lag: int) -> None:
        err_console.print(f"folded {now} events ({total} since start); {lag} behind the log")

    url = bootstrap.database_url()
    with _open(url) as (_, store):
        try:
            view = bootstrap.view(url, projection.value)
        except ValueError as exc:
            _fail(str(exc))
        try:
            total = projections.follow(store, view, timeout=timeout, progress=report)
        finally:
            view.factory.close()
    err_console.print(f"stopped: {total} events folded into the {projection.value} view")
