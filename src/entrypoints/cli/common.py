"""The `dialer` command line: the command groups, consoles and helpers every command shares."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from dialer_domain.errors import DomainError
from dialer_domain.values import (
    DateException,
    OpeningHours,
    Period,
)
from entrypoints import bootstrap

if TYPE_CHECKING:
    from adapters.eventstore import RecorderEventStore
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
