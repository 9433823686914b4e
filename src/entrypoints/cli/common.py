"""The `dialer` command line: the command groups, consoles and helpers every command shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from dialer_domain.model.errors import DomainError
from dialer_domain.model.values import OpeningHours
from dialer_domain.rules.schedule import parse_opening_hours
from entrypoints import bootstrap

if TYPE_CHECKING:
    from adapters.persistence.eventstore import RecorderEventStore
    from dialer_domain.service_layer.repository import Repository

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
    console.print(f"[red]error:[/red] {escape(msg)}")  # the message's own brackets are text, not markup
    raise typer.Exit(2)


def parse_hours(text: str, tz: str, exceptions: list[str] | None = None) -> OpeningHours:
    """The CLI's opening hours: see ``rules.schedule.parse_opening_hours``."""
    return parse_opening_hours(text, tz, exceptions)


def parse_abandon_cap(text: str) -> float | None:
    """An abandon-rate cap as given on the command line: a fraction such as 0.03, or "none"."""
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        _fail(f"--abandon-cap must be a fraction between 0 and 1 (0.03 is 3%) or none, not {text!r}")
    if not 0 < value < 1:
        _fail(f"--abandon-cap must be a fraction between 0 and 1 (0.03 is 3%) or none, not {text!r}")
    return value
