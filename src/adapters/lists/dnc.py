"""Do-not-call lists (issue 16) in tables of the store's own database (SQLite or PostgreSQL), or
in memory on the memory store: the ``DoNotCall`` port.

A list has a name, a scope (every campaign, or one campaign), a live generation and a revision.
* Numbers added or removed one by one (the internal list, a campaign's own list) change the live
  generation in place; each change raises the revision and is kept in ``dialer_dnc_changes``
  (who, when, why).
* A file (a national registry's, tens of millions of numbers) is loaded into a new generation in
  batches, streamed, while the old one stays live; one short transaction then makes the new one
  live, and the old one is deleted. A check sees the old list or the new one, never a mix; an
  import killed half-way leaves the old one live (its rows are swept by the next import).

A check is one indexed query that returns every list in scope with its revision (the evidence a
dial records) and whether the number is on it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs

from adapters.persistence.schema import schema_lock
from dialer_domain.model.errors import InvalidValue, NotFound
from dialer_domain.model.values import PhoneNumber
from dialer_domain.rules.do_not_call import DncVerdict

EVERY_CAMPAIGN = "*"
BATCH = 10_000
#: the most numbers one query of ``check_many`` asks about
CHECK_MANY = 500
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@attrs.frozen
class DncList:
    name: str
    scope: str  # EVERY_CAMPAIGN or a campaign id
    revision: int
    entries: int
    source: str
    updated_at: str
    updated_by: str

    def as_dict(self) -> dict[str, object]:
        return attrs.asdict(self)


def check_list_name(name: str) -> str:
    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
        raise InvalidValue(f"a do-not-call list name is 1 to 64 of a-z, 0-9, '-', '_' and '.'; got {name[:70]!r}")
    return name


def check_number(text: str) -> str:
    """An E.164 number (+ and 7 to 15 digits), as every number in the core is kept."""
    return PhoneNumber(text.strip()).e164


class DncStore:
    def __init__(self, datastore: Any | None) -> None:
        self.datastore = datastore
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[DncList, set[str]]] = {}
        self._postgres = datastore is not None and type(datastore).__module__.startswith("eventsourcing.postgres")
        schema = getattr(datastore, "schema", "") if self._postgres else ""
        self._p = f"{schema}." if schema else ""
        if datastore is not None:
            with schema_lock(datastore), datastore.transaction(commit=True) as curs:
                for statement in (
                    "CREATE TABLE IF NOT EXISTS {p}dialer_dnc_lists (name TEXT PRIMARY KEY, scope TEXT NOT NULL, live_gen INTEGER NOT NULL, "
                    "next_gen INTEGER NOT NULL, revision INTEGER NOT NULL, entries BIGINT NOT NULL, source TEXT NOT NULL, "
                    "updated_at TEXT NOT NULL, updated_by TEXT NOT NULL)",
                    "CREATE TABLE IF NOT EXISTS {p}dialer_dnc_numbers (list TEXT NOT NULL, gen INTEGER NOT NULL, e164 TEXT NOT NULL, "
                    "PRIMARY KEY (list, gen, e164))",
                    "CREATE TABLE IF NOT EXISTS {p}dialer_dnc_changes (list TEXT NOT NULL, revision INTEGER NOT NULL, at TEXT NOT NULL, "
                    "by_whom TEXT NOT NULL, change TEXT NOT NULL, e164 TEXT, reason TEXT NOT NULL)",
                ):
                    curs.execute(statement.format(p=self._p))

    # ------------------------------------------------------------------ the port

    def check(self, e164: str, campaign_id: UUID) -> DncVerdict:
        """Every list in the campaign's scope, with its revision, and those holding ``e164``."""
        scope = str(campaign_id)
        if self.datastore is None:
            with self._lock:
                found = [(meta, e164 in numbers) for meta, numbers in self._memory.values() if meta.scope in (EVERY_CAMPAIGN, scope)]
            return DncVerdict.of((m.name, m.revision, hit) for m, hit in found)
        rows = self._query(
            "SELECT l.name, l.revision, n.e164 FROM {p}dialer_dnc_lists l LEFT JOIN {p}dialer_dnc_numbers n "
            "ON n.e164 = ? AND n.list = l.name AND n.gen = l.live_gen WHERE l.scope IN (?, ?)",
            (e164, EVERY_CAMPAIGN, scope),
        )
        return DncVerdict.of((r[0], int(r[1]), r[2] is not None) for r in rows)

    def check_many(self, numbers: Sequence[str], campaign_id: UUID) -> Mapping[str, DncVerdict]:
        """``check`` for each number, in one query per ``CHECK_MANY`` numbers."""
        wanted = list(dict.fromkeys(numbers))
        if self.datastore is None:
            return {e164: self.check(e164, campaign_id) for e164 in wanted}
        out: dict[str, DncVerdict] = {}
        for i in range(0, len(wanted), CHECK_MANY):
            part = wanted[i : i + CHECK_MANY]
            rows = self._query(
                "SELECT l.name, l.revision, n.e164 FROM {p}dialer_dnc_lists l LEFT JOIN {p}dialer_dnc_numbers n "
                f"ON n.e164 IN ({', '.join('?' * len(part))}) AND n.list = l.name AND n.gen = l.live_gen WHERE l.scope IN (?, ?)",
                (*part, EVERY_CAMPAIGN, str(campaign_id)),
            )
            lists = {(r[0], int(r[1])) for r in rows}
            held = {(r[0], r[2]) for r in rows if r[2] is not None}
            for e164 in part:
                out[e164] = DncVerdict.of((name, revision, (name, e164) in held) for name, revision in lists)
        return out

    # ------------------------------------------------------------------ managing lists

    def lists(self) -> list[DncList]:
        if self.datastore is None:
            with self._lock:
                return sorted((meta for meta, _ in self._memory.values()), key=lambda m: m.name)
        rows = self._query("SELECT name, scope, revision, entries, source, updated_at, updated_by FROM {p}dialer_dnc_lists ORDER BY name", ())
        return [DncList(r[0], r[1], int(r[2]), int(r[3]), r[4], r[5], r[6]) for r in rows]

    def get(self, name: str) -> DncList:
        for meta in self.lists():
            if meta.name == name:
                return meta
        raise NotFound(f"no do-not-call list named {name!r}")

    def add(self, name: str, numbers: Iterable[str], *, scope: str = EVERY_CAMPAIGN, by: str, reason: str) -> DncList:
        """Add numbers to a list (made on first use with ``scope``), raising its revision once."""
        return self._change(name, [check_number(n) for n in numbers], add=True, scope=scope, by=by, reason=reason)

    def remove(self, name: str, numbers: Iterable[str], *, by: str, reason: str) -> DncList:
        self.get(name)
        return self._change(name, [check_number(n) for n in numbers], add=False, scope=None, by=by, reason=reason)

    def replace(
        self,
        name: str,
        lines: Iterable[str],
        *,
        scope: str = EVERY_CAMPAIGN,
        source: str,
        by: str,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[DncList, list[tuple[int, str]]]:
        """Load a whole list from ``lines`` (one number a line; blank lines and '#' comments
        skipped) into a new generation and make it live at once. Returns the list and the lines
        refused (line number, why): a file with refused lines is not made live."""
        check_list_name(name)
        refused: list[tuple[int, str]] = []
        digest = hashlib.sha256()
        if self.datastore is None:
            numbers: set[str] = set()
            for no, e164 in self._read(lines, refused, digest):
                numbers.add(e164)
                if progress is not None and no % BATCH == 0:
                    progress(no)
            if refused:
                return self._meta_or_blank(name, scope), refused
            with self._lock:
                old = self._memory.get(name)
                if old is not None and old[0].scope != scope:
                    raise InvalidValue(f"do-not-call list {name!r} is for {_scope_text(old[0].scope)}")
                meta = DncList(name, scope, (old[0].revision if old else 0) + 1, len(numbers), f"{source} sha256:{digest.hexdigest()}", _now(), by)
                self._memory[name] = (meta, numbers)
            return meta, []
        gen = self._list_row(name, scope, by, claim=True)
        batch: list[tuple[str, int, str]] = []
        count = 0
        for no, e164 in self._read(lines, refused, digest):
            batch.append((name, gen, e164))
            if len(batch) >= BATCH:
                count += self._insert(batch)
                batch = []
                if progress is not None:
                    progress(no)
        count += self._insert(batch)
        if refused:
            self._sweep(name, gen)
            return self.get(name), refused
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._sql("SELECT live_gen, revision FROM {p}dialer_dnc_lists WHERE name = ?"), (name,))
            live_gen, revision = (int(v) for v in _row(curs.fetchone()))
            superseded = live_gen > gen
            if not superseded:
                curs.execute(
                    self._sql(
                        "UPDATE {p}dialer_dnc_lists SET live_gen = ?, revision = ?, entries = ?, source = ?, updated_at = ?, updated_by = ? "
                        "WHERE name = ?"
                    ),
                    (gen, revision + 1, count, f"{source} sha256:{digest.hexdigest()}", _now(), by, name),
                )
                curs.execute(
                    self._sql(
                        "INSERT INTO {p}dialer_dnc_changes (list, revision, at, by_whom, change, e164, reason) "
                        "VALUES (?, ?, ?, ?, 'replace', NULL, ?)"
                    ),
                    (name, revision + 1, _now(), by, f"{count} numbers from {source}"),
                )
        if superseded:  # another import made a newer version live meanwhile: this one is dropped
            self._sweep(name, gen)
            raise InvalidValue(f"do-not-call list {name!r} was replaced by another import while {source} was loading; {source} was dropped")
        self._sweep(name, gen, older=True)
        return self.get(name), []

    # ------------------------------------------------------------------ inside

    def _sql(self, statement: str) -> str:
        statement = statement.replace("{p}", self._p)
        return statement.replace("?", "%s") if self._postgres else statement

    def _query(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        assert self.datastore is not None
        reading = self.datastore.cursor() if self._postgres else self.datastore.transaction(commit=False)  # ADR 0033
        with reading as curs:
            curs.execute(self._sql(statement), params)
            return [_row(r) for r in curs.fetchall()]

    def _meta_or_blank(self, name: str, scope: str) -> DncList:
        with self._lock:
            old = self._memory.get(name)
        return old[0] if old else DncList(name, scope, 0, 0, "", "", "")

    def _read(self, lines: Iterable[str], refused: list[tuple[int, str]], digest: Any) -> Iterator[tuple[int, str]]:
        for no, line in enumerate(lines, start=1):
            digest.update(line.encode("utf-8"))
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                yield no, check_number(text)
            except InvalidValue as exc:
                if len(refused) < 100:
                    refused.append((no, str(exc)))

    def _list_row(self, name: str, scope: str, by: str, *, claim: bool) -> int:
        """With ``claim``, a new generation to load a file into (the list made, empty, on first
        use); else the live generation, to change in place (the list made, empty and live)."""
        assert self.datastore is not None
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._sql("SELECT scope, live_gen, next_gen FROM {p}dialer_dnc_lists WHERE name = ?"), (name,))
            row = curs.fetchone()
            if row is None:
                curs.execute(
                    self._sql(
                        "INSERT INTO {p}dialer_dnc_lists (name, scope, live_gen, next_gen, revision, entries, source, updated_at, updated_by) "
                        "VALUES (?, ?, ?, 2, 0, 0, ?, ?, ?)"
                    ),
                    (name, scope, 0 if claim else 1, "" if claim else "added one by one", _now(), by),
                )
                return 1
            have_scope, live_gen, next_gen = _row(row)
            if have_scope != scope:
                raise InvalidValue(f"do-not-call list {name!r} is for {_scope_text(have_scope)}")
            if not claim:
                return int(live_gen)
            curs.execute(self._sql("UPDATE {p}dialer_dnc_lists SET next_gen = ? WHERE name = ?"), (int(next_gen) + 1, name))
            return int(next_gen)

    def _insert(self, rows: list[tuple[str, int, str]]) -> int:
        if not rows:
            return 0
        assert self.datastore is not None
        unique = list(dict.fromkeys(rows))
        verb = "INSERT INTO" if self._postgres else "INSERT OR IGNORE INTO"
        tail = " ON CONFLICT DO NOTHING" if self._postgres else ""
        with self.datastore.transaction(commit=True) as curs:
            curs.executemany(self._sql(f"{verb} {{p}}dialer_dnc_numbers (list, gen, e164) VALUES (?, ?, ?){tail}"), unique)
        return len(unique)

    def _sweep(self, name: str, gen: int, *, older: bool = False) -> None:
        """Delete generation ``gen`` (a refused load), or every one older than the live ``gen``
        (the replaced one, and any an import killed half-way left behind)."""
        assert self.datastore is not None
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._sql(f"DELETE FROM {{p}}dialer_dnc_numbers WHERE list = ? AND gen {'<' if older else '='} ?"), (name, gen))

    def _change(self, name: str, numbers: list[str], *, add: bool, scope: str | None, by: str, reason: str) -> DncList:
        check_list_name(name)
        if not numbers:
            raise InvalidValue("no numbers given")
        if self.datastore is None:
            with self._lock:
                old = self._memory.get(name)
                if old is not None and scope is not None and old[0].scope != scope:
                    raise InvalidValue(f"do-not-call list {name!r} is for {_scope_text(old[0].scope)}")
                have = old[1] if old else set()
                if add:
                    have |= set(numbers)
                else:
                    have -= set(numbers)
                base = old[0] if old else DncList(name, scope or EVERY_CAMPAIGN, 0, 0, "added one by one", "", "")
                meta = attrs.evolve(base, revision=base.revision + 1, entries=len(have), updated_at=_now(), updated_by=by)
                self._memory[name] = (meta, have)
            return meta
        if add:
            self._list_row(name, scope or EVERY_CAMPAIGN, by, claim=False)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._sql("SELECT live_gen, revision FROM {p}dialer_dnc_lists WHERE name = ?"), (name,))
            gen, revision = (int(v) for v in _row(curs.fetchone()))
            for e164 in dict.fromkeys(numbers):
                if add:
                    curs.execute(self._sql("SELECT 1 FROM {p}dialer_dnc_numbers WHERE e164 = ? AND list = ? AND gen = ?"), (e164, name, gen))
                    if curs.fetchone() is None:
                        curs.execute(self._sql("INSERT INTO {p}dialer_dnc_numbers (list, gen, e164) VALUES (?, ?, ?)"), (name, gen, e164))
                else:
                    curs.execute(self._sql("DELETE FROM {p}dialer_dnc_numbers WHERE e164 = ? AND list = ? AND gen = ?"), (e164, name, gen))
                curs.execute(
                    self._sql(
                        "INSERT INTO {p}dialer_dnc_changes (list, revision, at, by_whom, change, e164, reason) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (name, revision + 1, _now(), by, "add" if add else "remove", e164, reason),
                )
            curs.execute(self._sql("SELECT COUNT(*) FROM {p}dialer_dnc_numbers WHERE list = ? AND gen = ?"), (name, gen))
            entries = int(_row(curs.fetchone())[0])
            curs.execute(
                self._sql("UPDATE {p}dialer_dnc_lists SET revision = ?, entries = ?, updated_at = ?, updated_by = ? WHERE name = ?"),
                (revision + 1, entries, _now(), by, name),
            )
        return self.get(name)


def _row(row: Any) -> tuple[Any, ...]:
    """A row as a tuple, whatever the driver gives (SQLite's Row, psycopg's dict row)."""
    if isinstance(row, dict):
        return tuple(row.values())
    return tuple(row)


def _scope_text(scope: str) -> str:
    return "every campaign" if scope == EVERY_CAMPAIGN else f"campaign {scope}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
