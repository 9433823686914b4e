"""`dialer callback`: book, move and call off a contact's callback from the outside (R12)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape

from entrypoints import bootstrap
from entrypoints.cli.common import _open, app, console

callback_app = typer.Typer(help="Callbacks (R12): book or move one for a contact, or call it off.", no_args_is_help=True)
app.add_typer(callback_app, name="callback")


def _when(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text[:40]!r} is not a time like 2026-11-24T10:30:00+01:00") from None
    if at.tzinfo is None:
        raise ValueError(f"--at {text[:40]!r} needs a time zone, like +01:00 or Z")
    return at


@callback_app.command("book")
def callback_book(
    campaign: str,
    key: Annotated[str, typer.Argument(help="The contact's key in the campaign's list.")],
    at: Annotated[str, typer.Option(help="When, with a time zone: 2026-11-24T10:30:00+01:00.")],
    agent: Annotated[str | None, typer.Option(help="Only this agent takes it (a personal callback); default: any agent.")] = None,
    by: Annotated[str, typer.Option(help="Who books it (kept in the event).")] = "cli",
) -> None:
    """Book the contact's callback, or move the one it has booked. Outside the campaign's hours it is
    refused with the next opening, or moved there with a warning (setting callback_outside_hours)."""
    from dialer_domain.service_layer.callbacks import book_callback
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, _store):
        done = book_callback(repo, campaign_named(repo, campaign), key, _when(at), agent_id=agent, by=by, now=bootstrap.WallClock().now())
    if done.warning:
        console.print(f"[yellow]warning:[/yellow] {escape(done.warning)}")
    who = f"agent {agent}" if agent else "any agent"
    console.print(f"callback {'moved' if done.moved else 'booked'}: {done.contact.key} at {done.callback_at.isoformat()} for {who}")


@callback_app.command("cancel")
def callback_cancel(
    campaign: str,
    key: Annotated[str, typer.Argument(help="The contact's key in the campaign's list.")],
    close: Annotated[bool, typer.Option("--close", help="Finish the contact too (else it is back in the list, due at once).")] = False,
    reason: Annotated[str, typer.Option(help="Why (kept in the event).")] = "cancelled from the command line",
    by: Annotated[str, typer.Option(help="Who cancels it (kept in the event).")] = "cli",
) -> None:
    """Call off the contact's callback."""
    from dialer_domain.service_layer.callbacks import cancel_callback
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, _store):
        contact = cancel_callback(repo, campaign_named(repo, campaign), key, by=by, reason=reason, close=close, now=bootstrap.WallClock().now())
    console.print(f"callback cancelled: {contact.key} is {contact.state.value}")
