"""`dialer lists` and `dialer assign`: list files, the drop folder, history and assignment (R7, R13)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from dialer_domain.model.errors import DomainError
from dialer_domain.model.values import ImportMode, ListMapping
from entrypoints import bootstrap
from entrypoints.cli.audit import AsJson
from entrypoints.cli.common import _fail, _open, assign_app, console, err_console, lists_app
from entrypoints.cli.stats import Format, _emit


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
    from dialer_domain.service_layer.handlers import set_list_mapping

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
        if region is not None:
            import phonenumbers

            if region.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"unknown region {region!r}")
        set_list_mapping(repo, campaign, mapping, region=region, at=bootstrap.WallClock().now())
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
    from dialer_domain.service_layer.handlers import campaign_named
    from dialer_domain.service_layer.repository import Repository

    store = bootstrap.store()
    try:
        campaign_id = campaign_named(Repository(store), campaign).id
        with Progress(TextColumn(f"importing {path.name}"), TextColumn("{task.completed} rows"), TimeElapsedColumn(), console=err_console) as bar:
            task = bar.add_task("import", total=None)
            return lists.import_file(
                store,
                campaign_id,
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
            console.print(f"  line {line} ({key or 'no key'}): {why}", markup=False, highlight=False)
        if len(exc.rejects) > 50:
            console.print(f"  ... and {len(exc.rejects) - 50} more (import with --skip-invalid to write them all to a file)")
        _fail(exc.summary)
    except (DomainError, ValueError, OSError, bootstrap.StoreUnavailable) as exc:
        _fail(str(exc))
    console.print(_report_text(report))
    if rej:
        where = rejects or path.with_suffix(path.suffix + ".rejects.csv")
        console.print(f"{len(rej)} rows not imported ({report.rejected} invalid, {report.duplicates} duplicate keys), with reasons, in {where}")


@lists_app.command("history")
def lists_history(campaign: str, as_json: AsJson = False) -> None:
    """The campaign's import history, refused files included: when, file and hash, mode, what
    happened to the rows, or why the file was refused."""
    from dialer_domain.model.events import ListImported
    from dialer_domain.service_layer.handlers import campaign_named, import_history

    with _open() as (repo, _store):
        history = import_history(repo, campaign_named(repo, campaign))
    rows = []
    for e in history:
        row: dict[str, Any] = {"at": e.timestamp.isoformat(timespec="seconds"), "file": e.file_name, "sha256": e.sha256[:12], "mode": e.mode.value}
        if isinstance(e, ListImported):
            row |= {"outcome": "imported", "rows": e.rows, "accepted": e.accepted, "rejected": e.rejected, "duplicates": e.duplicates}
            row |= {"added": e.added, "updated": e.updated, "withdrawn": e.withdrawn}
        else:
            row |= {"outcome": f"refused ({e.reason_code})", "rows": e.rows, "accepted": 0, "rejected": e.rejected, "duplicates": e.duplicates}
            row |= {"added": 0, "updated": 0, "withdrawn": 0}
        rows.append(row)
    _emit(rows, Format.json if as_json else Format.table, f"imports of {campaign}")


@lists_app.command("watch")
def lists_watch(
    folder: Annotated[Path, typer.Argument(help="Drop folder: each new *.csv is imported once.")],
    campaign: Annotated[str, typer.Option(help="Campaign the files belong to.")],
    mode: Annotated[ImportMode, typer.Option(help="replace or append.")] = ImportMode.APPEND,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows of a file with rejects.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between looks.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Look once and stop.")] = False,
    settle: Annotated[float, typer.Option(min=0.0, help="A file is picked up once unchanged for this many seconds.")] = 5.0,
    done_marker: Annotated[str | None, typer.Option(help="Instead: pick FILE.csv up when FILE.csv<MARKER> appears, e.g. .done.")] = None,
) -> None:
    """Pick up files from a drop folder (the seed's FTP pickup): import, then move each to
    processed/ or failed/ with its report. A file still being written waits for a later look."""
    import time as _time

    from adapters import lists

    if not folder.is_dir():
        _fail(f"{folder} is not a folder")
    while True:
        look = lists.process_drop_folder(
            folder, lambda p: _import(campaign, p, mode, skip_invalid, None, 2), settle_seconds=settle, done_marker=done_marker
        )
        for path, outcome in look:
            (err_console if outcome.startswith("waiting") else console).print(f"{path.name}: {outcome}", markup=False, highlight=False)
        if once:
            return
        _time.sleep(interval)


@assign_app.command("obtain")
def assign_obtain(campaign: str, agent: str) -> None:
    """An agent obtains unassigned contacts ("max per click", refused at "max held")."""
    from dialer_domain.service_layer.handlers import campaign_named, obtain

    with _open() as (repo, store):
        got = obtain(repo, bootstrap.queue_reader(store), campaign_named(repo, campaign).id, agent, at=bootstrap.WallClock().now())
    console.print(f"agent {agent} obtained {len(got)} contact(s)")


@assign_app.command("manual")
def assign_manual(campaign: str, agent: str, key: Annotated[list[str], typer.Option(help="Contact key; repeatable.")]) -> None:
    """Assign contacts to an agent by hand."""
    from dialer_domain.model.identities import contact_id_for
    from dialer_domain.service_layer.handlers import assign_contacts, campaign_named

    with _open() as (repo, store):
        cid = campaign_named(repo, campaign).id
        unknown = [k for k in key if not store.load(contact_id_for(cid, k), up_to_version=1)]
        if unknown:
            raise ValueError(f"campaign {campaign!r} has no contact {', '.join(repr(k) for k in unknown[:10])}")
        n = assign_contacts(repo, [contact_id_for(cid, k) for k in key], agent, by="cli", at=bootstrap.WallClock().now())
    console.print(f"assigned {n} contact(s) to {agent}")


@assign_app.command("auto")
def assign_auto(campaign: str, agent: Annotated[list[str], typer.Option(help="Agent; repeat for each of the campaign's agents.")]) -> None:
    """Deal the unassigned contacts evenly across the agents."""
    from dialer_domain.service_layer.handlers import assign_all_evenly, campaign_named

    with _open() as (repo, store):
        counts = assign_all_evenly(repo, bootstrap.queue_reader(store), campaign_named(repo, campaign).id, agent, at=bootstrap.WallClock().now())
    console.print(", ".join(f"{a}: {n}" for a, n in counts.items()))
