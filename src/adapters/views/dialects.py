"""The SQL dialects of the persisted views (ADR 0005, ADR 0008, ADR 0033, ADR 0034): what SQLite
and PostgreSQL do differently when a page is written and a view is read."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from adapters.views.base import COPY_ROWS, GENERATIONS_TABLE, Upsert


class SQLiteDialect:
    """SQLite: ``?`` placeholders, the library's ``tracking`` table, whole-database write locks."""

    placeholder = "?"
    schema: tuple[str, ...]
    datastore: Any

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """The view's write connection commits without syncing the write-ahead log (``synchronous =
        NORMAL``, ADR 0034); the store's connections keep syncing, and the next event committed
        syncs the view's pages before it with its own. A setting SQLite refuses inside a
        transaction: set once on each connection, before its first BEGIN (ADR 0039)."""
        with self.datastore.get_connection(commit=True) as conn:
            if not getattr(conn, "dialer_unsynced", False):  # once a connection: it keeps the setting (ADR 0039)
                conn.cursor().execute("PRAGMA synchronous = NORMAL")
                conn.dialer_unsynced = True
            with conn.transaction(commit=True) as curs:
                yield curs

    def _moved_in_one_statement(self, curs: Any, gen: int, start: int, position: int, live_only: bool) -> bool:
        """The page's compare-and-set as one UPDATE (ADR 0039): the generation's tracking row moves
        from ``start`` to ``position`` only if it is at ``start`` and, with ``live_only``, ``gen`` is
        live. It writes, so the transaction holds the write lock from it on, as ``_advance``'s first
        statement does. No row changed (the generation's first page, another writer first, a
        rebuild switched generations): nothing was written, and ``_advance`` says which."""
        table = self._tracking_table()  # type: ignore[attr-defined]
        sql = f"UPDATE {{p}}{table} SET notification_id = %s WHERE application_name = %s AND notification_id = %s"
        params: tuple[Any, ...] = (position, self._tracking_name(gen), start)  # type: ignore[attr-defined]
        if live_only:
            sql += " AND EXISTS (SELECT 1 FROM {p}dialer_view_generation WHERE projection = %s AND live = %s)"
            params += (self.projection, gen)  # type: ignore[attr-defined]
        curs.execute(self._sql(sql), params)  # type: ignore[attr-defined]
        return bool(curs.sqlite_cursor.rowcount == 1)

    def construct_create_table_statements(self) -> list[str]:
        base: list[str] = super().construct_create_table_statements()  # type: ignore[misc]
        return [*base, *(self._sql(s) for s in (GENERATIONS_TABLE, *self.schema))]  # type: ignore[attr-defined]


class PostgresDialect:
    """PostgreSQL: schema-qualified tables, a row lock on the tracking position, COPY for many rows."""

    datastore: Any
    tracking_table_name: str

    def _prefix(self) -> str:
        from psycopg.sql import Identifier

        return f"{Identifier(self.datastore.schema).as_string()}."

    def _tracking_table(self) -> str:
        return self.tracking_table_name

    def _lock_clause(self) -> str:
        return " FOR UPDATE"

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """The plain page transaction; its commit does not wait for the disk (ADR 0034)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SET LOCAL synchronous_commit TO OFF")  # ADR 0034
            yield curs

    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        return self.datastore.cursor()  # type: ignore[no-any-return]  # a pooled connection in autocommit

    def _page_in_one_statement(self, gen: int, start: int, position: int, live_only: bool, upsert: Upsert, rows: Sequence[Sequence[Any]]) -> bool:
        """A page of fewer than ``COPY_ROWS`` rows of one table (the engine folding its own
        commits), as one statement on an autocommit connection, so its own transaction (ADR 0033):
        the compare-and-set of the tracking position (an UPDATE that a racing writer's waits on,
        then finds moved, and updates nothing), only while ``gen`` is live with ``live_only``, and
        the rows' upsert only if that UPDATE updated. The commit does not wait for the disk
        (ADR 0034). Returns False, having written nothing, if the position was not ``start`` (or
        has no row yet) or the generation is not live: the plain transaction then says which
        (``_page``)."""
        if len(rows) >= COPY_ROWS:
            return False
        statement = _one_statement_page(self._prefix(), self.tracking_table_name, upsert, live_only, bool(rows))
        params = [position, self._tracking_name(gen), start]  # type: ignore[attr-defined]
        if live_only:
            params += [self.projection, gen]  # type: ignore[attr-defined]
        params.extend(list(column) for column in zip(*rows, strict=True))
        with self.datastore.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            found = curs.fetchone()
        return found is not None and found["moved"] == position

    def _upsert(self, curs: Any, table: str, cols: Sequence[str], conflict: str, update: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows: COPY into a temporary table, then one INSERT ... ON CONFLICT from it."""
        if len(rows) < COPY_ROWS:
            super()._upsert(curs, table, cols, conflict, update, rows)  # type: ignore[misc]
            return
        names = ", ".join(cols)
        curs.execute(f"CREATE TEMP TABLE IF NOT EXISTS tmp_{table} (LIKE {self._prefix()}{table}) ON COMMIT DELETE ROWS")
        with curs.copy(f"COPY tmp_{table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        curs.execute(self._sql(f"INSERT INTO {{p}}{table} ({names}) SELECT {names} FROM tmp_{table} ON CONFLICT ({conflict}) DO UPDATE SET {update}"))  # type: ignore[attr-defined]

    def create_table(self) -> None:
        super().create_table()  # type: ignore[misc]
        with self.datastore.transaction(commit=True) as curs:
            self._create_view_tables(curs)  # type: ignore[attr-defined]


@functools.cache
def _one_statement_page(prefix: str, tracking_table: str, upsert: Upsert, live_only: bool, with_rows: bool) -> str:
    """The text of a one-statement page (``PostgresDialect._page_in_one_statement``), made once per
    shape. The rows go as one array per column, so the text is the same whatever their number and
    the statement is prepared once; binary, as arrays dumped in text cost 3-4 times as much."""
    tracking = f"{prefix}{tracking_table}"
    live = f" AND (SELECT live FROM {prefix}dialer_view_generation WHERE projection = %s) = %s" if live_only else ""
    ctes = [
        "unsynced AS (SELECT set_config('synchronous_commit', 'off', true) AS s)",
        f"cas AS (UPDATE {tracking} SET notification_id = %s WHERE application_name = %s AND notification_id = %s{live} RETURNING notification_id)",
    ]
    if with_rows:
        arrays = ", ".join(f"%b::{t}[]" for t in upsert.types)
        ctes.append(
            f"up AS (INSERT INTO {prefix}{upsert.table} ({', '.join(upsert.cols)}) SELECT * FROM unnest({arrays}) "
            f"WHERE EXISTS (SELECT 1 FROM cas) ON CONFLICT ({upsert.conflict}) DO UPDATE SET {upsert.update.replace('{p}', prefix)})"
        )
    return f"WITH {', '.join(ctes)} SELECT (SELECT s FROM unsynced) AS s, (SELECT notification_id FROM cas) AS moved"
