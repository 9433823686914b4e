"""The `dialer` command line."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

import attrs
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dialer_domain.errors import DomainError
from dialer_domain.values import (
    CampaignSettings,
    CampaignStatus,
    ContactData,
    DateException,
    DialMode,
    ImportMode,
    ListMapping,
    OpeningHours,
    Period,
)
from entrypoints import bootstrap

if TYPE_CHECKING:
    from adapters.audit import AuditTrail
    from adapters.eventstore import RecorderEventStore
    from adapters.statistics import AgentFigures, CampaignFigures
    from dialer_domain.campaign import Campaign
    from dialer_domain.repository import Repository

app = typer.Typer(
    help="Event-sourced outbound dialer core. The store is DIALER_DATABASE_URL (default sqlite:///dialer.db).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback never shows a URL with its password
)
campaign_app = typer.Typer(help="Create and run campaigns.", no_args_is_help=True)
contact_app = typer.Typer(help="Add contacts to a campaign's list.", no_args_is_help=True)
audit_app = typer.Typer(help="Replay the recorded history of a contact or campaign (R20).", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(contact_app, name="contact")
app.add_typer(audit_app, name="audit")
lists_app = typer.Typer(help="Contact lists: column mapping, file import (replace or append), drop folder, history (R7).", no_args_is_help=True)
app.add_typer(lists_app, name="lists")
assign_app = typer.Typer(help="Assign contacts to agents (R13).", no_args_is_help=True)
app.add_typer(assign_app, name="assign")
stats_app = typer.Typer(help="Statistics by campaign, hour and agent (R19), kept as a projection of the events.", no_args_is_help=True)
app.add_typer(stats_app, name="stats")
console = Console()
err_console = Console(stderr=True)  # progress and status: never mixed into a command's output


@functools.cache
def _converter() -> Any:
    from adapters.eventstore import make_event_converter

    return make_event_converter()

DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


@contextmanager
def _open(url: str | None = None) -> Iterator[tuple[Repository, RecorderEventStore]]:
    """The store for one command; bad input or a refused command ends it with a clear message."""
    try:
        repo, store = bootstrap.repository(url)
    except (ValueError, bootstrap.StoreUnavailable) as exc:
        _fail(str(exc))
    try:
        yield repo, store
    except (DomainError, ValueError, OSError) as exc:
        _fail(str(exc))
    finally:
        store.close()


def _fail(msg: str) -> None:
    console.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(2)


def parse_hours(text: str, tz: str, exceptions: list[str] | None = None) -> OpeningHours:
    """``mon-fri=09:00-12:00,13:00-17:00;sat=10:00-14:00``; exceptions ``2026-12-24=closed`` or
    ``2026-12-27=10:00-14:00``."""
    weekly: dict[int, tuple[Period, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        m = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))?=(.+)", part.lower())
        if not m or m.group(1) not in DAYS or (m.group(2) and m.group(2) not in DAYS):
            raise ValueError(f"opening hours part {part!r} is not like mon-fri=09:00-17:00")
        first = DAYS[m.group(1)]
        last = DAYS[m.group(2)] if m.group(2) else first
        periods = _periods(m.group(3))
        for d in range(first, last + 1):
            weekly[d] = periods
    excs = []
    for e in exceptions or []:
        day, _, spec = e.partition("=")
        excs.append(DateException(datetime.fromisoformat(day).date(), () if spec.strip() == "closed" else _periods(spec)))
    return OpeningHours(tz, weekly, tuple(excs))


def _periods(spec: str) -> tuple[Period, ...]:
    out = []
    for span in spec.split(","):
        a, _, b = span.strip().partition("-")
        try:
            out.append(Period(time.fromisoformat(a), time.fromisoformat(b)))
        except ValueError as exc:
            raise ValueError(f"period {span!r} is not like 09:00-12:00: {exc}") from None
    return tuple(out)


@campaign_app.command("create")
def campaign_create(
    name: str,
    manager: Annotated[str, typer.Option(help="Who manages the campaign.")],
    mode: Annotated[DialMode, typer.Option(help="Dial mode.")] = DialMode.PROGRESSIVE,
    skill: Annotated[str | None, typer.Option(help="Skill agents need (default: the campaign name).")] = None,
    priority: Annotated[int, typer.Option(help="1..10, 10 highest (R1).")] = 5,
    description: str = "",
    hours: Annotated[str | None, typer.Option(help="Opening hours, e.g. 'mon-fri=09:00-12:00,13:00-17:00'.")] = None,
    exception: Annotated[list[str] | None, typer.Option(help="Dated exception: 2026-12-24=closed or 2026-12-27=10:00-14:00.")] = None,
    tz: Annotated[str, typer.Option(help="Time zone of the hours.")] = "Europe/Copenhagen",
    max_ring: Annotated[int, typer.Option(help="Max ring seconds.")] = 25,
    attempts: Annotated[int, typer.Option(help="Attempts per number.")] = 3,
    max_attempts: Annotated[int, typer.Option(help="Attempts per contact (R14).")] = 6,
    redial_delay: Annotated[int, typer.Option(help="Minimum seconds before redialling a number.")] = 3600,
    wrapup: Annotated[int, typer.Option(help="Wrap-up seconds.")] = 15,
    caller_id: Annotated[str, typer.Option(help="Caller ID number (E.164).")] = "",
    caller_name: Annotated[str, typer.Option(help="Caller ID name.")] = "",
) -> None:
    """Create a campaign (Disabled until you enable it)."""
    from dialer_domain.services import CampaignSpec, create_campaign
    with _open() as (repo, _store):
        settings = CampaignSettings(
            skill=skill or name,
            max_ring_seconds=max_ring,
            attempts_per_number=attempts,
            max_attempts_per_contact=max_attempts,
            min_redial_seconds=redial_delay,
            wrapup_seconds=wrapup,
            caller_id_number=caller_id,
            caller_id_name=caller_name,
        )
        opening = parse_hours(hours, tz, exception) if hours else None
        c = create_campaign(
            repo,
            CampaignSpec(name=name, description=description, manager=manager, priority=priority, dial_mode=mode),
            settings=settings,
            hours=opening,
            at=bootstrap.WallClock().now(),
        )
    console.print(f"created campaign [bold]{c.name}[/bold] ({c.id}), {c.dial_mode.value}, priority {c.priority}, disabled")


@campaign_app.command("status")
def campaign_status(name: str, status: CampaignStatus, by: str = "cli") -> None:
    """Enable, disable or set a campaign to Automatic (follow its hours)."""
    from dialer_domain.services import campaign_named, set_campaign_status
    with _open() as (repo, _store):
        c = set_campaign_status(repo, campaign_named(repo, name).id, status, by=by, at=bootstrap.WallClock().now())
    console.print(f"campaign {c.name} is {c.status.value}")


@campaign_app.command("show")
def campaign_show(name: str) -> None:
    """Show a campaign's configuration as its events left it."""
    from dialer_domain.services import campaign_named
    with _open() as (repo, _store):
        c = campaign_named(repo, name)
    console.print_json(json.dumps(_converter().unstructure(_campaign_view(c)), default=str))


def _campaign_view(c: Campaign) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "name": c.name,
        "description": c.description,
        "manager": c.manager,
        "priority": c.priority,
        "dial_mode": c.dial_mode.value,
        "status": c.status.value,
        "settings": _converter().unstructure(c.settings),
        "hours": _converter().unstructure(c.hours),
        "version": c.version,
    }


@contact_app.command("add")
def contact_add(
    campaign: str,
    key: str,
    number: Annotated[list[str], typer.Option(help="Phone number; repeat for several, in dialling order (R8).")],
    name: str = "",
    region: Annotated[str, typer.Option(help="Default region for numbers without +country.")] = "DK",
    priority: int = 5,
    agent: Annotated[str | None, typer.Option(help="Assign to this agent (R13).")] = None,
    var: Annotated[list[str] | None, typer.Option(help="Free variable key=value (R9); repeatable.")] = None,
) -> None:
    """Add one contact to a campaign's list."""
    from adapters.phone import normalise
    from dialer_domain.ports import campaign_id_for
    from dialer_domain.services import add_contact
    with _open() as (repo, _store):
        numbers = tuple(normalise(n, region) for n in number)
        variables = {}
        for v in var or []:
            k, sep, val = v.partition("=")
            if not sep or not k:
                raise ValueError(f"variable {v!r} is not key=value")
            variables[k] = val
        c = add_contact(
            repo,
            campaign_id_for(campaign),
            key=key,
            numbers=numbers,
            data=ContactData(name=name, variables=variables),
            priority=priority,
            assigned_agent=agent,
            at=bootstrap.WallClock().now(),
        )
    console.print(f"added contact {c.key} ({c.id}) with {len(c.numbers)} number(s): {', '.join(n.e164 for n in c.numbers)}")


def _print_trail(trail: AuditTrail, as_json: bool, limit: int = 0) -> None:
    entries = trail.entries[:limit] if limit else trail.entries
    if as_json:
        rows = [
            {
                "at": e.at.isoformat(),
                "event": e.event,
                "stream": str(e.stream),
                "version": e.version,
                "cause": e.cause,
                "data": e.data,
            }
            for e in entries
        ]
        print(json.dumps({"subject": trail.subject, "state": trail.state, "events": rows}, indent=2, default=str))
        return
    table = Table(title=f"{trail.subject}: {len(trail.entries)} events")
    table.add_column("at (UTC)")
    table.add_column("event")
    table.add_column("cause", overflow="fold")
    table.add_column("details", overflow="fold")
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "", [], {}) and k not in _CAUSE_KEYS)
        table.add_row(e.at.isoformat()[:23], e.event, e.cause, details)
    console.print(table)
    state = {k: v for k, v in trail.state.items() if k in _STATE_KEYS}
    console.print(f"state then: {json.dumps(state, default=str)}")


_CAUSE_KEYS = {"reason", "changed_by", "by", "scheduled_by", "assigned_by", "source", "checks", "estimates"}
_STATE_KEYS = {
    "key",
    "name",
    "agent_id",
    "state",
    "status",
    "attempts",
    "priority",
    "dial_mode",
    "disposition",
    "callback_at",
    "version",
}


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("--as-of needs a time zone, e.g. 2026-11-23T10:00:00+00:00")
    return t


AsOf = Annotated[str | None, typer.Option(help="The history and state as they were at this time (ISO 8601 with zone).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@audit_app.command("contact")
def audit_contact(ref: Annotated[str, typer.Argument(help="CAMPAIGN/KEY or the contact's id.")], as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Every event of one contact in order, with the pacing decision behind each dial."""
    from adapters import audit
    with _open() as (_, store):
        if "/" in ref:
            campaign, _, key = ref.partition("/")
            trail = audit.contact_trail_by_key(store, campaign, key, as_of=_as_of(as_of))
        else:
            trail = audit.contact_trail(store, UUID(ref), as_of=_as_of(as_of))
    _print_trail(trail, as_json)


@audit_app.command("campaign")
def audit_campaign(
    name: str,
    as_of: AsOf = None,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(help="At most this many events (0: all).")] = 0,
) -> None:
    """The campaign's events, its pacing decisions and its contacts' events, in log order."""
    from adapters import audit
    with _open() as (_, store):
        trail = audit.campaign_trail(store, name, as_of=_as_of(as_of))
    _print_trail(trail, as_json, limit)


@audit_app.command("agent")
def audit_agent(agent_id: str, as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Every session of one agent: logins, offers, calls, wrap-ups, pauses."""
    from adapters import audit
    with _open() as (_, store):
        trail = audit.agent_trail(store, agent_id, as_of=_as_of(as_of))
    _print_trail(trail, as_json)


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


@lists_app.command("mapping")
def lists_mapping(
    campaign: str,
    key: Annotated[str, typer.Option(help="Column with each contact's unique key.")],
    phone: Annotated[list[str], typer.Option(help="Phone number column; repeat for several, in dialling order.")],
    name: Annotated[str | None, typer.Option(help="Name column.")] = None,
    tz: Annotated[str | None, typer.Option("--tz-column", help="Time zone column.")] = None,
    priority: Annotated[str | None, typer.Option(help="Priority column (1..10).")] = None,
    agent: Annotated[str | None, typer.Option(help="Assigned agent column.")] = None,
    var: Annotated[list[str] | None, typer.Option(help="Variable column (default: every unmapped column).")] = None,
    common: Annotated[list[str] | None, typer.Option(help="Variable common to the whole list, key=value.")] = None,
    delimiter: Annotated[str, typer.Option(help="Field delimiter.")] = ",",
    region: Annotated[str | None, typer.Option(help="Default region for numbers without +country (e.g. DK, SE).")] = None,
) -> None:
    """Set how the campaign's list files map to contacts."""
    from dialer_domain.services import campaign_named
    with _open() as (repo, _store):
        commons = {}
        for item in common or []:
            k, sep, v = item.partition("=")
            if not sep or not k:
                raise ValueError(f"common variable {item!r} is not key=value")
            commons[k] = v
        if delimiter == "\\t":
            delimiter = "\t"
        mapping = ListMapping(
            key=key,
            phones=tuple(phone),
            name=name,
            time_zone=tz,
            priority=priority,
            agent=agent,
            variables=tuple(var or ()),
            common=commons,
            delimiter=delimiter,
        )
        c = campaign_named(repo, campaign)
        now = bootstrap.WallClock().now()
        c.set_list_mapping(mapping, now)
        if region is not None:
            import phonenumbers

            if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"unknown region {region!r}")
            c.change_settings(attrs.evolve(c.config, default_region=region.upper()), now)
        repo.save(c)
    console.print(f"list mapping of {campaign}: key {key}, numbers {', '.join(phone)}")


def _import(
    campaign: str,
    path: Path,
    mode: ImportMode,
    skip_invalid: bool,
    rejects: Path | None,
    workers: int,
    max_withdraw: float = 0.5,
    force: bool = False,
    encoding: str = "utf-8",
) -> tuple[Any, list[Any]]:
    from adapters import lists
    from dialer_domain.ports import campaign_id_for
    store = bootstrap.store()
    try:
        with Progress(TextColumn(f"importing {path.name}"), TextColumn("{task.completed} rows"), TimeElapsedColumn(), console=err_console) as bar:
            task = bar.add_task("import", total=None)
            return lists.import_file(
                store,
                campaign_id_for(campaign),
                path,
                mode=mode,
                at=bootstrap.WallClock().now(),
                ids=uuid4,
                skip_invalid=skip_invalid,
                rejects_path=rejects or (path.with_suffix(path.suffix + ".rejects.csv") if skip_invalid else None),
                workers=workers,
                progress=lambda n: bar.update(task, completed=n),
                max_withdraw_share=max_withdraw,
                force=force,
                encoding=encoding,
            )
    finally:
        store.close()


def _report_text(report: Any) -> str:
    return (
        f"{report.file_name} ({report.mode.value}): {report.rows} rows, {report.accepted} accepted, {report.rejected} rejected, "
        f"{report.duplicates} duplicates; {report.added} added, {report.updated} updated, {report.reinstated} reinstated, "
        f"{report.withdrawn} withdrawn, {report.left_in_call} left alone in a call"
    )


@lists_app.command("import")
def lists_import(
    campaign: str,
    path: Annotated[Path, typer.Argument(help="CSV file (UTF-8, with or without BOM).")],
    mode: Annotated[ImportMode, typer.Option(help="replace: the file becomes the list; append: add and update.")] = ImportMode.APPEND,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows; write the rejects to a file.")] = False,
    rejects: Annotated[Path | None, typer.Option(help="Where the rejects go (default FILE.rejects.csv).")] = None,
    workers: Annotated[int, typer.Option(help="Processes that check numbers.")] = 2,
    max_withdraw: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="replace: refuse a file that would withdraw more than this share of the list.")
    ] = 0.5,
    force: Annotated[bool, typer.Option("--force", help="replace: withdraw however much of the list the file leaves out.")] = False,
    encoding: Annotated[str, typer.Option(help="The file's encoding, e.g. cp1252 for a spreadsheet's export.")] = "utf-8",
) -> None:
    """Import a list file, all of it or nothing. By default a file with any rejected row imports
    nothing and says why; a replace that would withdraw more than half the list is refused."""
    from adapters import lists
    try:
        report, rej = _import(campaign, path, mode, skip_invalid, rejects, workers, max_withdraw, force, encoding)
    except lists.ImportRejected as exc:
        for line, key, why in exc.rejects[:50]:
            console.print(f"  line {line} ({key or 'no key'}): {why}")
        _fail(str(exc))
    except (DomainError, ValueError, OSError, bootstrap.StoreUnavailable) as exc:
        _fail(str(exc))
    console.print(_report_text(report))
    if rej:
        console.print(f"{len(rej)} rejected rows written to {rejects or path.with_suffix(path.suffix + '.rejects.csv')}")


@lists_app.command("history")
def lists_history(campaign: str, as_json: AsJson = False) -> None:
    """The campaign's import history: when, file and hash, mode, rows accepted, rejected, duplicates."""
    from dialer_domain.services import campaign_named
    with _open() as (repo, _store):
        c = campaign_named(repo, campaign)
    rows = [
        {
            "at": e.timestamp.isoformat(timespec="seconds"),
            "file": e.file_name,
            "sha256": e.sha256[:12],
            "mode": e.mode.value,
            "rows": e.rows,
            "accepted": e.accepted,
            "rejected": e.rejected,
            "duplicates": e.duplicates,
            "added": e.added,
            "updated": e.updated,
            "withdrawn": e.withdrawn,
        }
        for e in c.imports
    ]
    _emit(rows, Format.json if as_json else Format.table, f"imports of {campaign}")


@lists_app.command("watch")
def lists_watch(
    folder: Annotated[Path, typer.Argument(help="Drop folder: each new *.csv is imported once.")],
    campaign: Annotated[str, typer.Option(help="Campaign the files belong to.")],
    mode: Annotated[ImportMode, typer.Option(help="replace or append.")] = ImportMode.APPEND,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows of a file with rejects.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Look once and stop.")] = False,
) -> None:
    """Pick up files from a drop folder (the seed's FTP pickup): import, then move each to
    processed/ or failed/ with its report."""
    import time as _time

    from adapters import lists

    if not folder.is_dir():
        _fail(f"{folder} is not a folder")
    while True:
        for path, outcome in lists.process_drop_folder(folder, lambda p: _import(campaign, p, mode, skip_invalid, None, 2)):
            console.print(f"{path.name}: {outcome}")
        if once:
            return
        _time.sleep(interval)


@assign_app.command("obtain")
def assign_obtain(campaign: str, agent: str) -> None:
    """An agent obtains unassigned contacts ("max per click", refused at "max held")."""
    from adapters import lists
    from dialer_domain.ports import campaign_id_for
    with _open() as (repo, store):
        got = lists.obtain(store, repo, campaign_id_for(campaign), agent, at=bootstrap.WallClock().now())
    console.print(f"agent {agent} obtained {len(got)} contact(s)")


@assign_app.command("manual")
def assign_manual(campaign: str, agent: str, key: Annotated[list[str], typer.Option(help="Contact key; repeatable.")]) -> None:
    """Assign contacts to an agent by hand."""
    from dialer_domain.ports import campaign_id_for, contact_id_for
    from dialer_domain.services import assign_contacts
    with _open() as (repo, _store):
        cid = campaign_id_for(campaign)
        n = assign_contacts(repo, [contact_id_for(cid, k) for k in key], agent, by="cli", at=bootstrap.WallClock().now())
    console.print(f"assigned {n} contact(s) to {agent}")


@assign_app.command("auto")
def assign_auto(campaign: str, agent: Annotated[list[str], typer.Option(help="Agent; repeat for each of the campaign's agents.")]) -> None:
    """Deal the unassigned contacts evenly across the agents."""
    from adapters import lists
    from dialer_domain.ports import campaign_id_for
    with _open() as (repo, store):
        counts = lists.assign_all_evenly(store, repo, campaign_id_for(campaign), agent, at=bootstrap.WallClock().now())
    console.print(", ".join(f"{a}: {n}" for a, n in counts.items()))


@app.command()
def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the HTTP API (contacts, list uploads, assignment); OpenAPI at /docs."""
    import uvicorn

    uvicorn.run("entrypoints.api:app", host=host, port=port)


@app.command()
def simulate(
    mode: Annotated[DialMode, typer.Option(help="Dial mode to simulate.")] = DialMode.PREDICTIVE,
    agents: Annotated[int, typer.Option(help="Simulated agents, all logged in.")] = 10,
    contacts: Annotated[int, typer.Option(help="Contacts in the list.")] = 4000,
    hours: Annotated[float, typer.Option(help="Length of the campaign day.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 1,
    day: Annotated[str, typer.Option(help="Simulated date (campaign time zone Europe/Copenhagen, opens 09:00).")] = "2026-11-23",
    compare: Annotated[bool, typer.Option("--compare", help="Run all five modes side by side.")] = False,
    p_human: Annotated[float, typer.Option(help="P(human answers).")] = 0.25,
    p_machine: Annotated[float, typer.Option(help="P(answering machine).")] = 0.15,
    p_busy: Annotated[float, typer.Option(help="P(busy).")] = 0.05,
    p_unreachable: Annotated[float, typer.Option(help="P(unreachable).")] = 0.05,
    talk_mean: Annotated[float, typer.Option(help="Mean talk seconds.")] = 120.0,
    wrap_mean: Annotated[float, typer.Option(help="Mean wrap-up seconds.")] = 15.0,
    power_ratio: Annotated[float, typer.Option(help="Power mode: calls per ready agent.")] = 1.7,
    target_abandon: Annotated[float, typer.Option(help="Predictive: target abandon rate.")] = 0.03,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run a simulated campaign day through the real engine and store, then print the report."""
    from adapters.engine_lock import EngineAlreadyRunning, engine_lock
    from adapters.simulation import SimulationConfig, WorldParams, run_simulation
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
    modes = list(DialMode) if compare else [mode]
    results = []
    url = bootstrap.database_url()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
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
    ]
    for label, key, fmt in rows:
        cells = []
        for _, r in results:
            s = r.summary
            if label.startswith("busy"):
                cells.append(f"{s['busy']} / {s['no_answer']} / {s['failed']}")
            elif label.startswith("callbacks"):
                cells.append(f"{s['callbacks_set']} / {s['callbacks_kept']} / {s['callbacks_late']} / {s['callbacks_missed']}")
            else:
                assert key is not None and fmt is not None
                cells.append(fmt.format(s[key]))
        table.add_row(label, *cells)
    console.print(table)
    for m, r in results:
        console.print(
            f"{m.value}: campaign '{r.campaign_name}', {r.events} events in the store; replay with: dialer audit campaign '{r.campaign_name}'"
        )


def _advance(bar: Progress, task: Any, fraction: float) -> None:
    bar.update(task, completed=fraction)


def main() -> None:  # pragma: no cover
    app()
