"""`dialer dnc`: do-not-call lists (issue 16, ADR 0015)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dialer_domain.rules.do_not_call import INTERNAL
from entrypoints import bootstrap
from entrypoints.cli.common import _fail, _open, app, console, err_console

dnc_app = typer.Typer(help="Do-not-call lists: the internal list, imported registries, a campaign's own list.", no_args_is_help=True)
app.add_typer(dnc_app, name="dnc")

ListOpt = Annotated[str, typer.Option("--list", help="The list's name (a-z, 0-9, '-', '_', '.').")]
CampaignOpt = Annotated[str | None, typer.Option(help="Only for this campaign (its name); default: every campaign.")]
ByOpt = Annotated[str, typer.Option(help="Who makes the change (kept with it).")]


def _scope(repo: object, campaign: str | None) -> str:
    from adapters.lists.dnc import EVERY_CAMPAIGN
    from dialer_domain.service_layer.handlers import campaign_named

    return EVERY_CAMPAIGN if campaign is None else str(campaign_named(repo, campaign).id)  # type: ignore[arg-type]


@dnc_app.command("add")
def dnc_add(
    numbers: Annotated[list[str], typer.Argument(help="E.164 numbers.")],
    list_name: ListOpt = INTERNAL,
    campaign: CampaignOpt = None,
    by: ByOpt = "cli",
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")] = "",
) -> None:
    """Add numbers to a list (made on first use): they are never dialled from now on."""
    with _open() as (repo, store):
        meta = bootstrap.do_not_call(store).add(list_name, numbers, scope=_scope(repo, campaign), by=by, reason=reason)
    console.print(f"list {meta.name}: revision {meta.revision}, {meta.entries} numbers")


@dnc_app.command("remove")
def dnc_remove(
    numbers: Annotated[list[str], typer.Argument(help="E.164 numbers.")],
    list_name: ListOpt = INTERNAL,
    by: ByOpt = "cli",
    reason: Annotated[str, typer.Option(help="Why (kept with the change).")] = "",
) -> None:
    """Take numbers off a list."""
    with _open() as (_, store):
        meta = bootstrap.do_not_call(store).remove(list_name, numbers, by=by, reason=reason)
    console.print(f"list {meta.name}: revision {meta.revision}, {meta.entries} numbers")


@dnc_app.command("import")
def dnc_import(
    file: Annotated[Path, typer.Argument(help="One E.164 number a line; blank lines and '#' comments are skipped.")],
    list_name: ListOpt,
    campaign: CampaignOpt = None,
    by: ByOpt = "cli",
) -> None:
    """Load a whole list from a file, streamed, as a new version that replaces the old one at once
    (a file with a bad line is refused whole, and the old version stays)."""
    from rich.progress import Progress

    with _open() as (repo, store), file.open(encoding="utf-8", errors="replace") as lines, Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"loading {file.name}", total=None)
        meta, refused = bootstrap.do_not_call(store).replace(
            list_name, lines, scope=_scope(repo, campaign), source=file.name, by=by, progress=lambda n: bar.update(task, completed=n)
        )
    if refused:
        for no, why in refused[:20]:
            console.print(f"line {no}: {why}")
        _fail(f"{file.name} was refused whole ({len(refused)}{'+' if len(refused) >= 100 else ''} bad lines); list {meta.name} is unchanged")
    console.print(f"list {meta.name}: revision {meta.revision}, {meta.entries} numbers ({meta.source})")


@dnc_app.command("lists")
def dnc_lists() -> None:
    """Every list: scope, revision, size, where it came from, who changed it last."""
    with _open() as (_, store):
        for m in bootstrap.do_not_call(store).lists():
            scope = "every campaign" if m.scope == "*" else f"campaign {m.scope}"
            console.print(f"{m.name}  {scope}  revision {m.revision}  {m.entries} numbers  {m.source}  {m.updated_at} by {m.updated_by}")


@dnc_app.command("check")
def dnc_check(number: str, campaign: Annotated[str, typer.Option(help="The campaign (its name).")]) -> None:
    """Whether a campaign may call a number, and which lists were looked at."""
    from adapters.lists.dnc import check_number
    from dialer_domain.service_layer.handlers import campaign_named

    with _open() as (repo, store):
        verdict = bootstrap.do_not_call(store).check(check_number(number), campaign_named(repo, campaign).id)
    if verdict.listed_on:
        _fail(f"{number} is on {', '.join(verdict.listed_on)} (checked {', '.join(verdict.checked)})")
    console.print(f"{number} may be called (checked {', '.join(verdict.checked) or 'no list'})")
