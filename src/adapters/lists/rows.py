"""Checking list rows against a campaign's mapping, in worker processes for large files; the
checked rows' spool format."""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

import attrs
import orjson

from adapters.lists.files import ROW_ERROR, Row
from adapters.lists.phone import e164
from adapters.persistence.eventstore import CattrsMapper
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.events import ContactImported
from dialer_domain.model.identities import contact_id_for
from dialer_domain.model.text import check_agent_id, check_contact_key
from dialer_domain.model.values import ContactData, ListMapping, PhoneNumber, check_priority
from dialer_domain.rules.contacts import check_contact_data
from dialer_domain.rules.schedule import zone
from dialer_domain.service_layer.handlers import ImportRow, PreparedRow

CHUNK = 2000


# ---------------------------------------------------------------------- row validation


@attrs.frozen
class Prepare:
    """What a worker needs to make each row's ContactImported ahead of time (the import's
    campaign, source and time)."""

    campaign_id: UUID
    source: str
    at: datetime


_ENCODE: Callable[[ContactImported], bytes] | None = None  # the store's encoder of a ContactImported


def prepared_state(prep: Prepare, row: ImportRow) -> tuple[UUID, bytes]:
    """The contact id and the stored state of the ContactImported the core's
    ``ContactAttempt.import_`` records for this row, if the contact is new (``imported``: checked by
    the core's rules here, in the worker)."""
    event = ContactAttempt.imported(
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
    global _ENCODE
    if _ENCODE is None:
        _ENCODE = CattrsMapper().encoder(ContactImported)
    return event.originator_id, _ENCODE(event)


def start_worker(parent: int) -> None:
    """A checking worker's initializer: it dies with its parent (``die_with_parent``), and what it
    inherited from the parent (the modules, the importer's objects) is frozen out of its garbage
    collector (``gc.freeze``, as the gc module's documentation advises after a fork): the full
    collections a worker runs then do not walk that heap, which cost 2 to 3 us a row, nor write to
    its pages, which would copy them."""
    import gc

    gc.freeze()
    die_with_parent(parent)


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


def validate_chunk(args: tuple[ListMapping, str, list[tuple[int, Row]], Prepare | None]) -> list[tuple[str, Any]]:
    """A worker's job: check a chunk of rows, then make the accepted rows' events (the two loops
    apart: each runs hot in its own library code, measurably faster than interleaved). An accepted
    row comes back as its spool line (``spool_line``); without ``prep`` (the bench's reference of
    checking alone) as the checked row itself."""
    mapping, region, rows, prep = args
    # with ``prep``, the core's ContactAttempt.import_ checks the contact's own rules (key, text,
    # sizes) as it makes the event, with the same messages: the checker leaves them to it
    check = RowChecker(mapping, region, contact_rules=prep is None)
    checked: list[ImportRow | tuple[int, str, str]] = []
    for line, raw in rows:
        try:
            checked.append(check(line, raw))
        except InvalidValue as exc:
            checked.append((line, (raw.get(mapping.key) or "").strip(), str(exc)))
    out: list[tuple[str, Any]] = []
    for row in checked:
        if not isinstance(row, ImportRow):
            out.append(("bad", row))
            continue
        if prep is None:
            out.append(("ok", (row.line, row.key, row)))
            continue
        try:
            contact_id, prepared = prepared_state(prep, row)
        except InvalidValue as exc:
            out.append(("bad", (row.line, row.key, str(exc))))
            continue
        out.append(("ok", (row.line, row.key, spool_line(row.line, row.key, contact_id, prepared))))
    return out


class RowChecker:
    """Checks raw CSV rows against one campaign's mapping and default region (what depends on
    the mapping alone is worked out once)."""

    def __init__(self, mapping: ListMapping, region: str, *, contact_rules: bool = True) -> None:
        self.mapping = mapping
        self.region = region
        self.contact_rules = contact_rules
        self.required = (mapping.key, *mapping.phones)
        self.required_set = frozenset(self.required)
        self.taken = {mapping.key, *mapping.phones, *(c for c in (mapping.name, mapping.time_zone, mapping.priority, mapping.agent) if c)}

    def __call__(self, line: int, raw: Row) -> ImportRow:
        mapping = self.mapping
        if ROW_ERROR in raw:
            raise InvalidValue(raw[ROW_ERROR])
        if not self.required_set <= raw.keys():
            raise InvalidValue(f"missing column(s) {', '.join(c for c in self.required if c not in raw)}")
        key = (raw.get(mapping.key) or "").strip()
        if not key:
            raise InvalidValue(f"empty key column {mapping.key!r}")
        if self.contact_rules:
            check_contact_key(key)
        numbers: list[PhoneNumber] = []
        found: list[str] = []  # their E.164 forms
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
            if number in found:
                continue  # the same number twice in one row: dialled once
            found.append(number)
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
            check_priority(priority)
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
        if self.contact_rules:
            check_contact_data(key, data)
            if agent is not None:
                check_agent_id(agent)
        return ImportRow(line, key, tuple(numbers), data, priority, agent)


def validate_row(mapping: ListMapping, region: str, line: int, raw: Row) -> ImportRow:
    """One row checked (see RowChecker)."""
    return RowChecker(mapping, region)(line, raw)


def spool_line(line: int, key: str, contact_id: UUID, prepared: bytes) -> str:
    """A checked row as the import's spool holds it, one line: its line number, the new contact's
    id (hex), its key (JSON) and its ContactImported's state (JSON, which holds the whole row),
    tab-separated (orjson writes JSON without a tab or a line break)."""
    return f"{line}\t{contact_id.hex}\t{orjson.dumps(key).decode()}\t{prepared.decode()}"


def spooled(text: str, mapper: CattrsMapper) -> PreparedRow:
    """A spool line read back: the row itself is read from the state, by the store's ``mapper``,
    only when the import asks for it whole (its key is in the list already)."""
    line, contact_id, key, prepared = text.rstrip("\n").split("\t")
    number, cid, state = int(line), UUID(contact_id), prepared.encode()
    return PreparedRow(number, orjson.loads(key), cid, state, partial(row_of_state, mapper, number, cid, state))


def row_of_state(mapper: CattrsMapper, line: int, contact_id: UUID, state: bytes) -> ImportRow:
    """The checked row again, from its new contact's ContactImported (read as the log reads it)."""
    e: ContactImported = mapper.decode(ContactImported.NAME, state, contact_id, 1)
    return ImportRow(line, e.key, e.numbers, e.data, e.priority, e.assigned_agent)


def chunks(rows: Iterator[tuple[int, Row]]) -> Iterator[list[tuple[int, Row]]]:
    chunk: list[tuple[int, Row]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bounded_map(pool: ProcessPoolExecutor, jobs: Iterator[Any], ahead: int) -> Iterator[list[tuple[str, Any]]]:
    """Like pool.map, in order, but with at most ``ahead`` chunks in flight (pool.map would read
    the whole file into memory first)."""
    window: deque[Future[list[tuple[str, Any]]]] = deque()
    for job in jobs:
        window.append(pool.submit(validate_chunk, job))
        if len(window) >= ahead:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()
