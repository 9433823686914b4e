"""`dialer campaign filter` and `dialer campaign sort`: which contacts of the list are queued, and in
what order within R11's tiers (R10)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from entrypoints import bootstrap
from entrypoints.cli.common import _open, campaign_app, console

if TYPE_CHECKING:
    from adapters.persistence.eventstore import RecorderEventStore
    from dialer_domain.model.campaign import Campaign

filter_app = typer.Typer(help="Named filters over contact fields and variables; one is active (R10).", no_args_is_help=True)
campaign_app.add_typer(filter_app, name="filter")
ByOpt = Annotated[str, typer.Option(help="Who makes the change (kept in the event).")]


def _report(store: RecorderEventStore, campaign: Campaign) -> None:
    from entrypoints.presenters import list_view

    shown = list_view(campaign, *bootstrap.queue_reader(store).listed(campaign.id))
    sel = campaign.selection
    listed = shown["selected"] + shown["left_out"]
    active = "no filter: every contact in the list"
    if sel.active:
        active = f"filter {sel.active!r} selects {shown['selected']} of {listed} contacts in the list"
    console.print(f"campaign {campaign.name}: {active}; sort: {', '.join(sel.sort) or 'R11 order'}")
    if shown["warning"]:
        console.print(f"[yellow]warning:[/yellow] {escape(shown['warning'])}")


@filter_app.command("save")
def filter_save(
    campaign: str,
    name: Annotated[str, typer.Argument(help="The filter's name.")],
    expression: Annotated[
        str, typer.Argument(help="e.g. \"region = 'north' and age >= 30\", \"product in ('A','B')\", \"variable.last_order < 2026-01-01\".")
    ],
    use: Annotated[bool, typer.Option("--use", help="Make it the active filter.")] = False,
    by: ByOpt = "cli",
) -> None:
    """Save (or replace) a named filter; a bad expression is refused saying where and what."""
    from dialer_domain.service_layer.campaign_admin import change_selection
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, store):
        now = bootstrap.WallClock().now()
        c = change_selection(repo, campaign_named(repo, campaign), save=(name, expression), use=name if use else ..., by=by, at=now)
        _report(store, c)


@filter_app.command("remove")
def filter_remove(campaign: str, name: str, by: ByOpt = "cli") -> None:
    """Remove a named filter (if it was active, no filter is)."""
    from dialer_domain.service_layer.campaign_admin import change_selection
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, store):
        c = change_selection(repo, campaign_named(repo, campaign), remove=name, by=by, at=bootstrap.WallClock().now())
        _report(store, c)


@filter_app.command("use")
def filter_use(
    campaign: str,
    name: Annotated[str | None, typer.Argument(help="The filter to make active; leave out with --none.")] = None,
    none: Annotated[bool, typer.Option("--none", help="No filter: every contact in the list.")] = False,
    by: ByOpt = "cli",
) -> None:
    """Choose the active filter: it takes effect at the next queue top-up; queued contacts it leaves
    out go back to the list."""
    from dialer_domain.service_layer.campaign_admin import change_selection
    from dialer_domain.service_layer.handlers import campaign_named

    if (name is None) == (not none):
        raise typer.BadParameter("give a filter's name, or --none")
    with _open() as (repo, store):
        c = change_selection(repo, campaign_named(repo, campaign), use=None if none else name, by=by, at=bootstrap.WallClock().now())
        _report(store, c)


@filter_app.command("show")
def filter_show(campaign: str) -> None:
    """The campaign's filters, the active one, its sort order, and how much of the list it selects."""
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, store):
        c = campaign_named(repo, campaign)
        console.print_json(json.dumps({"filters": dict(c.selection.filters), "active": c.selection.active, "sort": list(c.selection.sort)}))
        _report(store, c)


@campaign_app.command("sort")
def campaign_sort(
    campaign: str,
    order: Annotated[str, typer.Argument(help="e.g. \"priority desc, variable.last_order asc\" (\"\" : R11's order alone).")],
    by: ByOpt = "cli",
) -> None:
    """The order contacts are dialled in within R11's tiers (callbacks first stay first)."""
    from dialer_domain.service_layer.campaign_admin import change_selection
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, store):
        c = change_selection(repo, campaign_named(repo, campaign), sort=order, by=by, at=bootstrap.WallClock().now())
        _report(store, c)
