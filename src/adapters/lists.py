"""Contact list files (R7-R10): CSV in, validated rows out, applied as events by the core's
``import_list``.

* UTF-8 with or without BOM; the delimiter is declared in the campaign's list mapping.
* Every number parsed and normalised to E.164 by phonenumbers with the campaign's default region;
  invalid or impossible numbers reject the row; a number repeated within a row is dropped and
  reported; a key repeated within the file is a duplicate (the first occurrence wins).
* By default a file with any rejected row imports nothing and says why, row by row; with
  ``skip_invalid`` the good rows are imported and the rejects written to a CSV beside the file.
* Memory stays flat: rows stream; validated rows wait in a temporary file between the checking pass
  and the writing pass; keys (the list's and the file's) are kept in a temporary SQLite database.
  Number validation runs in worker processes for large files.
* An import is one unit (ADR 0008): the writing pass, its contacts and its history record, commits
  in one transaction, so a crash or a conflict leaves nothing of it. The temporary files are unlinked
  while open, and the workers die with their parent, so a SIGKILL leaves nothing behind either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import orjson
from eventsourcing.persistence import StoredEvent

from adapters.eventstore import CattrsMapper, RecorderEventStore
from adapters.listfile import ROW_ERROR, Row, read_rows, write_rejects
from adapters.phone import e164
from adapters.queue_view import QUEUE_TOPICS, QueueViewMixin, open_queue
from dialer_domain.campaign import Campaign
from dialer_domain.contact import ContactAttempt, check_contact_data
from dialer_domain.errors import ConcurrencyError, DomainError, InvalidValue
from dialer_domain.events import ContactImported, ContactWithdrawn
from dialer_domain.ports import IdFactory, contact_id_for
from dialer_domain.queue import LiveQueue
from dialer_domain.repository import Repository, iter_log
from dialer_domain.schedule import zone
from dialer_domain.services import ImportReport, ImportRow, assign_evenly, import_list, import_source, obtain_contacts
from dialer_domain.text import check_agent_id, check_contact_key
from dialer_domain.values import ContactData, ContactState, ImportMode, ListMapping, PhoneNumber

CHUNK = 2000


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


# ---------------------------------------------------------------------- row validation


@attrs.frozen
class Prepare:
    """What a worker needs to make each row's ContactImported ahead of time (the import's
    campaign, source and time)."""

    campaign_id: UUID
    source: str
    at: datetime


_MAPPER: CattrsMapper | None = None


def _prepared(prep: Prepare, row: ImportRow) -> bytes:
    """The stored state of the ContactImported the core's ``ContactAttempt.import_`` makes for
    this row, if the contact is new (checked by the core's rules here, in the worker)."""
    global _MAPPER
    if _MAPPER is None:
        _MAPPER = CattrsMapper()
    contact = ContactAttempt.import_(
        contact_id_for(prep.campaign_id, row.key),
        campaign_id=prep.campaign_id,
        key=row.key,
        numbers=row.numbers,
        data=row.data,
        priority=row.priority,
        assigned_agent=row.agent,
        source=prep.source,
        at=prep.at,
    )
    (event,) = contact.collect_events()
    return bytes(_MAPPER.to_stored_event(event).state)


def die_with_parent(parent: int) -> None:
    """A checking worker's initializer: the kernel kills it when its parent dies (Linux), and a
    watchdog thread does where that is not available."""
    import signal
    import threading
    import time

    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="dialer-parent-watch", daemon=True).start()


def _validate_chunk(args: tuple[ListMapping, str, list[tuple[int, Row]], Prepare | None]) -> list[tuple[str, Any]]:
    """A worker's job: check a chunk of rows, then make the accepted rows' events (the two loops
    apart: each runs hot in its own library code, measurably faster than interleaved)."""
    mapping, region, rows, prep = args
    check = RowChecker(mapping, region)
    checked: list[ImportRow | tuple[int, str, str]] = []
    for line, raw in rows:
        try:
            checked.append(check(line, raw))
        except InvalidValue as exc:
            checked.append((line, (raw.get(mapping.key) or "").strip(), str(exc)))
    out: list[tuple[str, Any]] = []
    for row in checked:
        if isinstance(row, ImportRow):
            out.append(("ok", (row.line, row.key, _row_to_json(row, _prepared(prep, row) if prep is not None else None))))
        else:
            out.append(("bad", row))
    return out


class RowChecker:
    """Checks raw CSV rows against one campaign's mapping and default region (what depends on
    the mapping alone is worked out once)."""

    def __init__(self, mapping: ListMapping, region: str) -> None:
        self.mapping = mapping
        self.region = region
        self.required = (mapping.key, *mapping.phones)
        self.taken = {mapping.key, *mapping.phones, *(c for c in (mapping.name, mapping.time_zone, mapping.priority, mapping.agent) if c)}

    def __call__(self, line: int, raw: Row) -> ImportRow:
        mapping = self.mapping
        if ROW_ERROR in raw:
            raise InvalidValue(raw[ROW_ERROR])
        missing = [c for c in self.required if c not in raw]
        if missing:
            raise InvalidValue(f"missing column(s) {', '.join(missing)}")
        key = (raw.get(mapping.key) or "").strip()
        if not key:
            raise InvalidValue(f"empty key column {mapping.key!r}")
        check_contact_key(key)
        numbers: list[PhoneNumber] = []
        problems: list[str] = []
        for col in mapping.phones:
            text = (raw.get(col) or "").strip()
            if not text:
                continue
            try:
                number = e164(text, self.region)
            except InvalidValue as exc:
                problems.append(f"{col} {text!r} {exc}")
                continue
            if any(n.e164 == number for n in numbers):
                continue  # the same number twice in one row: dialled once
            numbers.append(PhoneNumber(number, col))
        if problems:
            raise InvalidValue("; ".join(problems))
        if not numbers:
            raise InvalidValue(f"no phone number in {', '.join(mapping.phones)}")
        priority = 5
        if mapping.priority and (raw.get(mapping.priority) or "").strip():
            try:
                priority = int(raw[mapping.priority])
            except ValueError:
                raise InvalidValue(f"priority {raw[mapping.priority]!r} is not a whole number") from None
            if not 1 <= priority <= 10:
                raise InvalidValue(f"priority {priority} is not 1..10")
        tz = (raw.get(mapping.time_zone) or "").strip() if mapping.time_zone else ""
        if tz:
            zone(tz)
        if mapping.variables:
            own = {c: (raw.get(c) or "") for c in mapping.variables if c in raw}
        else:
            taken = self.taken
            own = {c: (v or "") for c, v in raw.items() if c not in taken and c is not None}
        variables = {**mapping.common, **own} if mapping.common else own
        agent = (raw.get(mapping.agent) or "").strip() or None if mapping.agent else None
        name = (raw.get(mapping.name) or "").strip() if mapping.name else ""
        data = ContactData(name=name, time_zone=tz or None, variables=variables)
        check_contact_data(key, data)
        if agent is not None:
            check_agent_id(agent)
        return ImportRow(line, key, tuple(numbers), data, priority, agent)


def validate_row(mapping: ListMapping, region: str, line: int, raw: Row) -> ImportRow:
    """One row checked (see RowChecker)."""
    return RowChecker(mapping, region)(line, raw)


def _row_to_json(r: ImportRow, prepared: bytes | None = None) -> str:
    return orjson.dumps(
        [
            r.line,
            r.key,
            [[n.e164, n.label] for n in r.numbers],
            r.data.name,
            r.data.time_zone,
            r.data.variables,
            r.priority,
            r.agent,
            None if prepared is None else prepared.decode("utf-8"),
        ],
    ).decode("utf-8")


def _row_from_json(text: str) -> ImportRow:
    line, key, numbers, name, tz, variables, priority, agent, prepared = orjson.loads(text)
    return ImportRow(
        line,
        key,
        tuple(PhoneNumber(e, lbl) for e, lbl in numbers),
        ContactData(name=name, time_zone=tz, variables=variables),
        priority,
        agent,
        None if prepared is None else prepared.encode("utf-8"),
    )


def _chunks(rows: Iterator[tuple[int, Row]]) -> Iterator[list[tuple[int, Row]]]:
    chunk: list[tuple[int, Row]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _bounded_map(pool: ProcessPoolExecutor, jobs: Iterator[Any], ahead: int) -> Iterator[list[tuple[str, Any]]]:
    """Like pool.map, in order, but with at most ``ahead`` chunks in flight (pool.map would read
    the whole file into memory first)."""
    window: deque[Future[list[tuple[str, Any]]]] = deque()
    for job in jobs:
        window.append(pool.submit(_validate_chunk, job))
        if len(window) >= ahead:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


# ---------------------------------------------------------------------- the list index on disk


class DiskListIndex:
    """The ListIndex port on a temporary SQLite file: the keys the list holds (from the log) and
    the keys this import has seen."""

    def __init__(self, store: RecorderEventStore, campaign_id: UUID) -> None:
        # SQLite's anonymous temporary database: on disk past its cache, unlinked as soon as it is
        # opened, so nothing is left behind even when the process is killed
        self.db = sqlite3.connect("")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE listed (key TEXT PRIMARY KEY, withdrawn INTEGER NOT NULL)")
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY)")
        ours: dict[UUID, str] = {}
        upsert = "INSERT INTO listed VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET withdrawn = excluded.withdrawn"
        for r in iter_log(store, page=20000, topics=("ContactImported", "ContactWithdrawn", "ContactReinstated")):
            e = r.event
            if isinstance(e, ContactImported):
                if e.campaign_id == campaign_id:
                    ours[e.originator_id] = e.key
                    self.db.execute(upsert, (e.key, 0))
            elif e.originator_id in ours:
                self.db.execute(upsert, (ours[e.originator_id], 1 if isinstance(e, ContactWithdrawn) else 0))
        self.db.commit()
        self.listed = self.db.execute("SELECT count(*) FROM listed").fetchone()[0]
        #: Set once the checking pass has recorded every accepted key: marking them again is then a no-op.
        self.seen_complete = False

    def contains(self, key: str) -> bool:
        if not self.listed:  # a new list: nothing to look up
            return False
        return self.db.execute("SELECT 1 FROM listed WHERE key = ?", (key,)).fetchone() is not None

    def first_time_in_file(self, key: str) -> bool:
        try:
            self.db.execute("INSERT INTO seen VALUES (?)", (key,))
        except sqlite3.IntegrityError:
            return False
        return True

    def mark_seen(self, key: str) -> None:
        if not self.seen_complete:
            self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,))

    def counts(self) -> tuple[int, int]:
        """(contacts the list holds now, how many of them the file does not have)."""
        live = self.db.execute("SELECT count(*) FROM listed WHERE withdrawn = 0").fetchone()[0]
        gone = self.db.execute("SELECT count(*) FROM listed WHERE withdrawn = 0 AND key NOT IN (SELECT key FROM seen)").fetchone()[0]
        return int(live), int(gone)

    def unseen(self) -> Iterator[str]:
        cur = self.db.execute("SELECT key FROM listed WHERE withdrawn = 0 AND key NOT IN (SELECT key FROM seen)")
        while True:
            rows = cur.fetchmany(1000)
            if not rows:
                return
            for (key,) in rows:
                yield key

    def close(self) -> None:
        self.db.close()


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
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),)))
        jobs = ((mapping, region, chunk, prep) for chunk in _chunks(read_rows(path, mapping, encoding)))
        results = _bounded_map(pool, jobs, 2 * (workers or 1)) if pool else map(_validate_chunk, jobs)
        for chunk in results:
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
                spool.write(text + "\n")
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
        rows = (_row_from_json(line) for line in spool)
        add_new = partial(_add_prepared, store, prep)
        try:
            with store.transaction():  # all of it, with its history record, or nothing
                import_list(repo, campaign_id, rows, mode=mode, index=index, report=report, import_id=import_id, at=at, add_new=add_new)
        except ConcurrencyError as exc:
            raise ConcurrencyError(
                f"{path.name}: another import or an edit changed the list of {campaign.name!r} while this file was being written; "
                f"nothing of it was stored: import it again ({exc})"
            ) from exc
        return report, rejects


def _add_prepared(store: RecorderEventStore, prep: Prepare, rows: Sequence[ImportRow]) -> None:
    """The bulk path for new contacts: their ContactImported, made by the workers, appended as
    they are (one transaction per batch; COPY on PostgreSQL)."""
    stored = [
        StoredEvent(
            originator_id=contact_id_for(prep.campaign_id, r.key),
            originator_version=1,
            topic=ContactImported.NAME,
            state=r.prepared if r.prepared is not None else _prepared(prep, r),
        )
        for r in rows
    ]
    store.append_stored(stored)


# ---------------------------------------------------------------------- drop folder and assignment


def process_drop_folder(
    folder: Path,
    run_import: Callable[[Path], tuple[ImportReport, list[tuple[int, str, str]]]],
    *,
    settle_seconds: float = 5.0,
    done_marker: str | None = None,
    now: float | None = None,
) -> Iterator[tuple[Path, str]]:
    """Import each *.csv in the folder once, then move it to processed/ or failed/ with its report.
    A file still being written is left for a later look: with ``done_marker`` (say ``.done``) until
    ``FILE.csv.done`` appears (removed once the file is imported); otherwise until it has not
    changed for ``settle_seconds``."""
    import time

    done, failed = folder / "processed", folder / "failed"
    done.mkdir(exist_ok=True)
    failed.mkdir(exist_ok=True)
    now = time.time() if now is None else now
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"):
        marker = path.with_name(path.name + done_marker) if done_marker else None
        if marker is not None and not marker.exists():
            yield path, f"waiting for {marker.name}"
            continue
        age = now - path.stat().st_mtime
        if marker is None and age < settle_seconds:
            yield path, f"waiting: changed {age:.1f} s ago (a file is picked up once unchanged for {settle_seconds:g} s)"
            continue
        target = done
        try:
            report, rejects = run_import(path)
            outcome = {"imported": attrs.asdict(report, value_serializer=_plain), "rejects": rejects}
            text = f"imported: {report.added} added, {report.updated} updated, {report.withdrawn} withdrawn, {len(rejects)} rejected"
        except ImportRejected as exc:
            target = failed
            outcome = {"error": str(exc), "rejects": exc.rejects}
            text = f"failed: {exc}"
        except (DomainError, ValueError, OSError) as exc:
            target = failed
            outcome = {"error": str(exc)}
            text = f"failed: {exc}"
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        dest = target / f"{path.stem}.{stamp}{path.suffix}"
        path.rename(dest)
        dest.with_suffix(".report.json").write_text(json.dumps(outcome, indent=2, default=str), encoding="utf-8")
        if marker is not None:
            marker.unlink(missing_ok=True)
        yield path, text


def _plain(_: object, __: object, value: Any) -> Any:
    return value.value if isinstance(value, ImportMode) else value


def _campaign_queue(store: RecorderEventStore) -> LiveQueue:
    """The list as the engine sees it, on the memory store: a fold of the log (one read of it)."""
    q = LiveQueue()
    for r in iter_log(store, page=20000, topics=QUEUE_TOPICS):
        q.apply(r.event)
    return q


def _unassigned_in_order(q: LiveQueue, campaign_id: UUID) -> list[UUID]:
    free = (ContactState.NEW, ContactState.PENDING)
    entries = [e for e in q.entries.values() if e.campaign_id == campaign_id and e.assigned_agent is None and e.state in free]
    entries.sort(key=lambda e: (e.key(), e.stamp))
    return [e.contact_id for e in entries]


def _queue_view(store: RecorderEventStore) -> tuple[QueueViewMixin, int] | None:
    """The persisted queue view, caught up with the log (SQLite and PostgreSQL), and its live generation."""
    if not store.url.startswith(("sqlite", "postgres")):
        return None
    queue = open_queue(store, store.url)
    return queue.view, queue.generation()


def obtain(store: RecorderEventStore, repo: Repository, campaign_id: UUID, agent_id: str, *, at: datetime) -> list[UUID]:
    """R13 on the queue view: the agent's unprocessed contacts counted, the first unassigned ones taken."""
    check_agent_id(agent_id)  # before the view is asked: a NUL breaks PostgreSQL's text
    campaign = repo.get(Campaign, campaign_id)
    found = _queue_view(store)
    if found is None:
        q = _campaign_queue(store)
        held, unassigned = q.assigned_unprocessed(campaign_id, agent_id), _unassigned_in_order(q, campaign_id)
    else:
        view, gen = found
        held = view.held_by(gen, campaign_id, agent_id)
        unassigned = view.unassigned(gen, campaign_id, limit=campaign.config.max_per_click + 100)
    return obtain_contacts(repo, campaign, agent_id, held=held, unassigned=unassigned, at=at)


def assign_all_evenly(store: RecorderEventStore, repo: Repository, campaign_id: UUID, agents: list[str], *, at: datetime) -> dict[str, int]:
    repo.get(Campaign, campaign_id)
    for agent in agents:
        check_agent_id(agent)
    found = _queue_view(store)
    unassigned = _unassigned_in_order(_campaign_queue(store), campaign_id) if found is None else found[0].unassigned(found[1], campaign_id)
    return assign_evenly(repo, unassigned, agents, by="automatic assignment", at=at)
