"""The library's SQLite connections, with a statement cache that holds more than one statement.

eventsourcing 9.5 opens each SQLite connection with ``cached_statements=True``, which sqlite3 takes
as a cache of one statement. A write transaction runs ``BEGIN``, then its statements, so the one
slot never holds the statement that comes next: every append prepared its INSERT (and the gap
trigger it fires) again, and every view write its statements (issue 18: about a third of a bare
durable append's CPU). ``with_statement_cache`` gives a factory's SQLite datastore a pool whose
connections are the library's own in every other respect, with sqlite3's default cache of 128
statements (ADR 0042)."""

from __future__ import annotations

import sqlite3
from typing import TypeVar

from eventsourcing.persistence import InterfaceError
from eventsourcing.sqlite import SQLITE3_DEFAULT_LOCK_TIMEOUT, SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore

STATEMENT_CACHE = 128  # sqlite3's own default

F = TypeVar("F")


class StatementCachingPool(SQLiteConnectionPool):
    """``SQLiteConnectionPool``, its connections made as the library makes them (autocommit, the
    write-ahead log for a file, rows as ``sqlite3.Row``) but with ``STATEMENT_CACHE`` statements
    kept prepared."""

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: transactions are begun explicitly
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            mode = c.execute("PRAGMA journal_mode;").fetchone()[0]
            if mode.lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


def with_statement_cache(factory: F) -> F:
    """The factory, its SQLite datastore (if it has one) given a ``StatementCachingPool`` with the
    pool's own settings, before any connection is made."""
    datastore = getattr(factory, "datastore", None)
    if isinstance(datastore, SQLiteDatastore) and not isinstance(datastore.pool, StatementCachingPool):
        old = datastore.pool
        datastore.pool = StatementCachingPool(
            db_name=old.db_name,
            lock_timeout=old.lock_timeout,
            pool_size=old.pool_size,
            max_overflow=old.max_overflow,
            pool_timeout=old.pool_timeout,
            max_age=old.max_age,
            pre_ping=old.pre_ping,
        )
        old.close()
    return factory
