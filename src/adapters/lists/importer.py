"""Importing a list file: check every row, then apply the file in one store transaction, or refuse
it whole and keep the refusal in the campaign's history (ADR 0008)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from uuid import UUID

import attrs
from eventsourcing.persistence import StoredEvent

from adapters.lists.files import read_rows, write_rejects
from adapters.lists.index import DiskListIndex
from adapters.lists.rows import Prepare, bounded_map, chunks, spooled, start_worker, validate_chunk
from adapters.persistence.eventstore import RecorderEventStore
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.errors import ConcurrencyError, DomainError, InvalidValue
from dialer_domain.model.events import ContactImported
from dialer_domain.model.values import ImportMode
from dialer_domain.service_layer.handlers import ImportReport, PreparedRow, import_list, import_source
from dialer_domain.service_layer.ports import IdFactory
from dialer_domain.service_layer.repository import Repository


class ImportRejected(DomainError):
    """The file was refused whole and nothing was imported: ``code`` says why (rejected_rows,
    would_withdraw_too_much), ``summary`` in a line, ``rejects`` row by row."""

    def __init__(self, message: str, report: ImportReport, rejects: list[tuple[int, str, str]], *, code: str, summary: str) -> None:
        super().__init__(message)
        self.report = report
        self.rejects = rejects
        self.code = code
        self.summary = summary


@attrs.frozen
class Rejected:
    line: int
    key: str
    reason: str


# ---------------------------------------------------------------------- the import


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_file(
    store: RecorderEventStore,
    campaign_id: UUID,
    path: Path,
    *,
    mode: ImportMode,
    at: datetime,
    ids: IdFactory,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    max_withdraw_share: float = 0.5,
    force: bool = False,
    encoding: str = "utf-8",
) -> tuple[ImportReport, list[tuple[int, str, str]]]:
    """Check the whole file, then (if it may) apply it, all in one transaction. Returns the report
    and the rejects. A REPLACE that would withdraw more than ``max_withdraw_share`` of the list
    (or that has no valid row at all) is refused unless ``force``."""
    repo = Repository(store)
    campaign = repo.get(Campaign, campaign_id)
    if campaign.list_mapping is None:
        raise InvalidValue(f"campaign {campaign.name!r} has no list mapping; set one first (dialer lists mapping)")
    report = ImportReport(file_name=path.name, sha256=sha256_of(path), mode=mode)
    try:
        return _check_and_apply(
            store, repo, campaign, path, report, at, ids, skip_invalid, rejects_path, workers, progress, max_withdraw_share, force, encoding
        )
    except ImportRejected as exc:
        _record_refusal(repo, campaign.id, report, exc.code, exc.summary, at)
        raise
    except ConcurrencyError as exc:
        _record_refusal(repo, campaign.id, report, "conflict", str(exc), at)
        raise
    except InvalidValue as exc:  # the file could not be read
        _record_refusal(repo, campaign.id, report, "unreadable_file", str(exc), at)
        raise


def _record_refusal(repo: Repository, campaign_id: UUID, report: ImportReport, code: str, reason: str, at: datetime) -> None:
    """The refused file goes into the campaign's history too (another writer first: try again)."""
    for _ in range(5):
        campaign = repo.get(Campaign, campaign_id)
        campaign.record_import_refused(
            at,
            reason_code=code,
            reason=reason,
            file_name=report.file_name,
            sha256=report.sha256,
            mode=report.mode,
            rows=report.rows,
            rejected=report.rejected,
            duplicates=report.duplicates,
        )
        try:
            repo.save(campaign)
            return
        except ConcurrencyError:
            continue


def _check_and_apply(
    store: RecorderEventStore,
    repo: Repository,
    campaign: Campaign,
    path: Path,
    report: ImportReport,
    at: datetime,
    ids: IdFactory,
    skip_invalid: bool,
    rejects_path: Path | None,
    workers: int | None,
    progress: Callable[[int], None] | None,
    max_withdraw_share: float,
    force: bool,
    encoding: str,
) -> tuple[ImportReport, list[tuple[int, str, str]]]:
    campaign_id = campaign.id
    assert campaign.list_mapping is not None
    mapping = campaign.list_mapping
    region = campaign.config.default_region
    mode = report.mode
    rejects: list[tuple[int, str, str]] = []
    import_id = ids()
    prep = Prepare(campaign_id, import_source(import_id), at)
    with contextlib.ExitStack() as stack:
        index = DiskListIndex(store, campaign_id)
        stack.callback(index.close)
        spool = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
        pool = None
        if (workers or 0) > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, initializer=start_worker, initargs=(os.getpid(),)))
        jobs = ((mapping, region, chunk, prep) for chunk in chunks(read_rows(path, mapping, encoding)))
        results = bounded_map(pool, jobs, 2 * (workers or 1)) if pool else map(validate_chunk, jobs)
        for chunk in results:
            accepted: list[str] = []
            for kind, value in chunk:
                report.rows += 1
                if kind == "bad":
                    report.rejected += 1
                    rejects.append(value)
                    continue
                line, key, text = value
                if not index.first_time_in_file(key):
                    report.duplicates += 1
                    rejects.append((line, key, f"duplicate key {key!r}: an earlier line has it"))
                    continue
                report.accepted += 1
                accepted.append(text)
            if accepted:
                spool.write("\n".join(accepted) + "\n")
            if progress is not None:
                progress(report.rows)
        if rejects and not skip_invalid:
            first = "; ".join(f"line {ln}: {why}" for ln, _, why in rejects[:5])
            summary = (
                f"{path.name}: {len(rejects)} of {report.rows} rows rejected ({report.rejected} invalid, {report.duplicates} duplicate keys), "
                "nothing imported; fix the file, or import only its valid rows (skip invalid)"
            )
            message = f"{summary} ({first}" + (" ...)" if len(rejects) > 5 else ")")
            raise ImportRejected(message, report, rejects, code="rejected_rows", summary=summary)
        if rejects and rejects_path is not None:
            write_rejects(rejects_path, rejects)
        index.seen_complete = True  # the checking pass recorded every accepted key, as the writing pass would
        if mode is ImportMode.REPLACE and not force:
            live, gone = index.counts()
            if live and (report.accepted == 0 or gone > max_withdraw_share * live):
                why = "has no valid row" if report.accepted == 0 else f"has {report.accepted} valid rows"
                message = (
                    f"{path.name} {why}: replacing the list with it would withdraw {gone} of its {live} contacts "
                    f"(more than {max_withdraw_share:.0%}); nothing imported. Check the file, or force the replace"
                )
                raise ImportRejected(message, report, rejects, code="would_withdraw_too_much", summary=message)
        spool.seek(0)
        rows = (spooled(line, store.mapper) for line in spool)
        add_new = partial(_add_prepared, store)
        try:
            with store.transaction():  # all of it, with its history record, or nothing
                import_list(repo, campaign_id, rows, mode=mode, index=index, report=report, import_id=import_id, at=at, add_new=add_new)
        except ConcurrencyError as exc:
            raise ConcurrencyError(
                f"{path.name}: another import or an edit changed the list of {campaign.name!r} while this file was being written; "
                f"nothing of it was stored: import it again ({exc})"
            ) from exc
        return report, rejects


def _add_prepared(store: RecorderEventStore, rows: Sequence[PreparedRow]) -> None:
    """The bulk path for new contacts: their ContactImported, made by the workers, appended as
    they are (one transaction per batch; COPY on PostgreSQL)."""
    topic = ContactImported.NAME
    store.append_stored([StoredEvent(originator_id=r.contact_id, originator_version=1, topic=topic, state=r.prepared) for r in rows])
