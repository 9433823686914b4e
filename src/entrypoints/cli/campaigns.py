"""`dialer campaign` and `dialer contact`: create and run campaigns, add contacts."""

from __future__ import annotations

import json
from types import EllipsisType
from typing import Annotated

import typer
from rich.markup import escape

from dialer_domain.model.values import CampaignSettings, CampaignStatus, ContactData, DialMode, OpeningHours
from entrypoints import bootstrap
from entrypoints.cli.common import _open, campaign_app, console, contact_app, err_console, parse_abandon_cap, parse_hours


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
    calling_policy: Annotated[
        str, typer.Option(help="Hours in the callee's local time: us_tcpa (08:00-21:00), fr (France's rules) or none (made-up numbers only).")
    ] = "us_tcpa",
    abandon_cap: Annotated[
        str, typer.Option(help="The rolling abandon rate (24 hours and 30 days) pacing never passes, e.g. 0.03, or none (ADR 0020).")
    ] = "0.03",
) -> None:
    """Create a campaign (Disabled until you enable it)."""
    from adapters.lists.phone import caller_id as checked
    from dialer_domain.service_layer.handlers import CampaignSpec, create_campaign

    with _open() as (repo, _store):
        caller_id = checked({"caller_id_number": caller_id}, "DK")["caller_id_number"]
        settings = CampaignSettings(
            skill=skill or name,
            max_ring_seconds=max_ring,
            attempts_per_number=attempts,
            max_attempts_per_contact=max_attempts,
            min_redial_seconds=redial_delay,
            wrapup_seconds=wrapup,
            caller_id_number=caller_id,
            caller_id_name=caller_name,
            calling_policy=calling_policy,
            abandon_cap=parse_abandon_cap(abandon_cap),
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
    from dialer_domain.service_layer.handlers import campaign_named, set_campaign_status

    with _open() as (repo, _store):
        c = set_campaign_status(repo, campaign_named(repo, name).id, status, by=by, at=bootstrap.WallClock().now())
    console.print(f"campaign {c.name} is {c.status.value}")


@campaign_app.command("list")
def campaign_list(as_json: Annotated[bool, typer.Option("--json", help="One JSON object per campaign.")] = False) -> None:
    """Every campaign: status, dial mode, priority, manager, skill."""
    from dialer_domain.service_layer.handlers import all_campaigns
    from entrypoints.presenters import campaign_view

    with _open() as (repo, _store):
        found = all_campaigns(repo)
    if as_json:
        console.print_json(json.dumps([campaign_view(c) for c in found], default=str))
        return
    if not found:
        console.print("no campaigns yet: dialer campaign create NAME --manager WHO")
        return
    from rich.table import Table

    table = Table("campaign", "status", "mode", "priority", "manager", "skill", "caller ID")
    for c in found:
        table.add_row(c.name, c.status.value, c.dial_mode.value, str(c.priority), c.manager, c.config.skill, c.config.caller_id_number or "(none)")
    console.print(table)


@campaign_app.command("edit")
def campaign_edit(
    name: str,
    setting: Annotated[
        list[str] | None,
        typer.Option("--set", help="A setting as name=value, repeatable: max_ring_seconds=30, caller_id_number=+4570123456, "
                     "auto_answer=no, extensions=201,202, abandon_cap=none (see `campaign show` for every name)."),
    ] = None,
    priority: Annotated[int | None, typer.Option(help="1..10, 10 highest (R1).")] = None,
    mode: Annotated[DialMode | None, typer.Option(help="Dial mode.")] = None,
    description: Annotated[str | None, typer.Option(help="The campaign's description.")] = None,
    manager: Annotated[str | None, typer.Option(help="Who manages the campaign.")] = None,
    rename: Annotated[str | None, typer.Option("--name", help="A new name (refused if another campaign bears it).")] = None,
    hours: Annotated[str | None, typer.Option(help="New opening hours, e.g. 'mon-fri=09:00-17:00' (with --tz, --exception).")] = None,
    exception: Annotated[list[str] | None, typer.Option(help="Dated exception with --hours: 2026-12-24=closed.")] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone of --hours (default: the campaign's).")] = None,
    no_hours: Annotated[bool, typer.Option("--no-hours", help="Remove the opening hours.")] = False,
    by: Annotated[str, typer.Option(help="Who makes the change (kept in the event).")] = "cli",
) -> None:
    """Change a campaign's settings, priority, dial mode, hours, name, description or manager: each change
    is an event with who and when; a change that breaks a rule is refused whole, with the reason."""
    from adapters.lists.phone import caller_id
    from dialer_domain.service_layer.campaign_admin import configure_campaign, setting_from_text
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, _store):
        c = campaign_named(repo, name)
        values = {}
        for item in setting or []:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"--set {item[:60]!r} is not name=value")
            values[key.strip()] = setting_from_text(key.strip(), text)
        values = caller_id(values, str(values.get("default_region", c.config.default_region)))
        new_hours: OpeningHours | EllipsisType | None = ...  # not given: they stay
        if no_hours:
            new_hours = None
        elif hours is not None:
            new_hours = parse_hours(hours, tz or (c.hours.time_zone if c.hours else "Europe/Copenhagen"), exception)
        before = c.version
        configure_campaign(
            repo, c, settings=values, priority=priority, dial_mode=mode, hours=new_hours,
            description=description, manager=manager, name=rename, by=by, at=bootstrap.WallClock().now(),
        )
    changes = c.version - before
    console.print(f"campaign {c.name}: {changes} change(s) recorded" if changes else f"campaign {c.name}: nothing changed")


@campaign_app.command("show")
def campaign_show(name: str) -> None:
    """Show a campaign's configuration as its events left it."""
    from dialer_domain.service_layer.handlers import campaign_named
    from entrypoints.presenters import campaign_view, list_view

    with _open() as (repo, store):
        c = campaign_named(repo, name)
        shown = {**campaign_view(c), "list": list_view(c, *bootstrap.queue_reader(store).listed(c.id))}
    console.print_json(json.dumps(shown, default=str))
    if shown["list"]["warning"]:
        err_console.print(f"[yellow]warning:[/yellow] {escape(shown['list']['warning'])}")




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
    from adapters.lists.phone import normalise
    from dialer_domain.service_layer.handlers import add_contact, campaign_named

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
            campaign_named(repo, campaign).id,
            key=key,
            numbers=numbers,
            data=ContactData(name=name, variables=variables),
            priority=priority,
            assigned_agent=agent,
            at=bootstrap.WallClock().now(),
        )
    console.print(f"added contact {c.key} ({c.id}) with {len(c.numbers)} number(s): {', '.join(n.e164 for n in c.numbers)}")
