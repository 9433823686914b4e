"""Statements of our own on the library's events table. Several event streams in one query
(ADR 0029): the library's recorders select one stream at a time, and a pacing run that loads its
contacts one by one pays a round trip, and on PostgreSQL a transaction, for each. An append on
PostgreSQL in one statement (ADR 0035). A page of the log on PostgreSQL as binary rows
(ADR 0036). The rows read are decoded by our mapper like any the library selects."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry

#: Streams asked for in one statement (SQLite's bound-parameter limit is 32,766 since 3.32, 999 before).
STREAMS_PER_QUERY = 500


def recorder_kind(recorder: Any) -> str:
    """postgres, sqlite or memory: which of the library's recorders this is."""
    module = type(recorder).__module__
    return "postgres" if module.startswith("eventsourcing.postgres") else "sqlite" if module.startswith("eventsourcing.sqlite") else "memory"


def select_streams(recorder: Any, stream_ids: Sequence[UUID]) -> list[StoredEvent]:
    """The stored events of these streams, each stream's in version order (streams in no set order)."""
    ids = list(dict.fromkeys(stream_ids))
    kind = recorder_kind(recorder)
    if kind == "memory":
        return [s for sid in ids for s in recorder.select_events(sid)]
    out: list[StoredEvent] = []
    for i in range(0, len(ids), STREAMS_PER_QUERY):
        chunk = ids[i : i + STREAMS_PER_QUERY]
        if kind == "postgres":
            out.extend(_postgres(recorder, chunk))
        else:
            out.extend(_sqlite(recorder, chunk))
    return out


def _postgres(recorder: Any, ids: list[UUID]) -> list[StoredEvent]:
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (ids,), prepare=True)
        return [StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"])) for r in curs.fetchall()]


def _sqlite(recorder: Any, ids: list[UUID]) -> list[StoredEvent]:
    marks = ", ".join("?" * len(ids))
    statement = (
        f"SELECT originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
        f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
    )
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(statement, [sid.hex for sid in ids])
        return [
            StoredEvent(recorder.convert_originator_id(r["originator_id"]), r["originator_version"], r["topic"], r["state"])
            for r in curs.fetchall()
        ]


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's select_notifications
def select_log_postgres(recorder: Any, after: int, limit: int, topics: Sequence[str] = ()) -> list[tuple[int, str, int, str, bytes]]:
    """The log after position ``after``, at most ``limit`` rows, only ``topics`` if any: what the
    library's ``select_notifications`` selects, as (position, stream, version, topic, state)
    tuples in binary format (ADR 0036): the library's text rows as dicts, made into objects, took
    three times as long. The stream id comes as text, for ``codec.uuid_of``: one UUID object per
    stream while it is cached, so a fold's dicts keyed on streams find it by identity (psycopg
    makes a new object per row, which every lookup then compared by its Python ``__eq__``)."""
    from psycopg.rows import tuple_row

    statement = _log_statement(recorder.datastore.schema, recorder.events_table_name, bool(topics))
    params = (after, list(topics), limit) if topics else (after, limit)
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
        curs.execute(statement, params, prepare=True)
        rows: list[tuple[int, str, int, str, bytes]] = curs.fetchall()
        return rows


@functools.cache
def _log_statement(schema: str, table: str, with_topics: bool) -> Any:
    from psycopg.sql import SQL, Identifier

    where = "notification_id > %s" + (" AND topic = ANY(%s)" if with_topics else "")
    columns = "notification_id, originator_id::text, originator_version, topic, state"
    statement = SQL("SELECT " + columns + " FROM {0}.{1} WHERE " + where + " ORDER BY notification_id LIMIT %s")
    return statement.format(Identifier(schema), Identifier(table))


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's insert_events
def append_postgres(recorder: Any, stored: Sequence[StoredEvent]) -> list[int]:
    """Append in one statement and so one transaction (ADR 0035): ``APPEND_FUNCTION`` takes the
    events table's lock, notifies the library's channel and inserts, as the library's
    ``insert_events`` does in six statements. Returns the positions, in the events' order."""
    statement = _append_statement(recorder.datastore.schema)
    columns = ([e.originator_id for e in stored], [e.originator_version for e in stored], [e.topic for e in stored], [e.state for e in stored])
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, columns, prepare=True)
        return [r["position"] for r in curs.fetchall()]


@functools.cache
def _append_statement(schema: str) -> Any:
    """The call of ``APPEND_FUNCTION`` in this schema, made once. Binary parameters: a bytea array
    in text is every state hex-escaped in Python (56 against 15 µs for 9 events)."""
    from psycopg.sql import SQL, Identifier

    from adapters.persistence.schema import APPEND_FUNCTION

    return SQL("SELECT * FROM {0}.{1}(%b, %b, %b, %b) AS position").format(Identifier(schema), Identifier(APPEND_FUNCTION))
