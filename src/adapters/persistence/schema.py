"""Schema set-up that is safe to race, and the rule every stream keeps: contiguous versions.

Several processes may open a fresh database at once (the API's workers, an engine, a follower).
On PostgreSQL, ``CREATE TABLE IF NOT EXISTS`` is not safe to race (two sessions both insert the
table's type and one dies on a unique violation), so every schema statement of the project runs
under one session-level advisory lock per schema, and is skipped when its objects are there.

The library's recorders refuse a second event at a stream's version (a unique key) but accept a
gap (version 3 after version 1). A trigger refuses an event whose previous version is not stored,
inside the inserting transaction, for every writer of the table, at no extra round trip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

GAP_TRIGGER = "dialer_stream_follows"
GAP_MESSAGE = "does not follow the stored version of its stream"

_SQLITE_GAP_TRIGGER = f"""
CREATE TRIGGER IF NOT EXISTS {GAP_TRIGGER} BEFORE INSERT ON {{table}}
WHEN NEW.originator_version > 1 AND NOT EXISTS (
    SELECT 1 FROM {{table}} WHERE originator_id = NEW.originator_id AND originator_version = NEW.originator_version - 1)
BEGIN SELECT RAISE(ABORT, 'event {GAP_MESSAGE}'); END
"""

_PG_GAP_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {{schema}}.{GAP_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM {{schema}}.{{table}}
                 WHERE originator_id = NEW.originator_id AND originator_version = NEW.originator_version - 1) THEN
    RAISE EXCEPTION 'event % v% {GAP_MESSAGE}', NEW.originator_id, NEW.originator_version
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$
"""

_PG_GAP_TRIGGER = f"""
CREATE TRIGGER {GAP_TRIGGER} BEFORE INSERT ON {{schema}}.{{table}}
FOR EACH ROW WHEN (NEW.originator_version > 1) EXECUTE FUNCTION {{schema}}.{GAP_TRIGGER}()
"""


#: One append on PostgreSQL (ADR 0035): the library's insert, its table lock and its notification, in
#: one statement. Versioned by name: a changed body is a new function beside the old one.
APPEND_FUNCTION = "dialer_append_v1"

_PG_APPEND_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {{schema}}.{APPEND_FUNCTION}(ids uuid[], versions bigint[], topics text[], states bytea[])
RETURNS SETOF bigint LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL lock_timeout = {{lock_timeout}};
  LOCK TABLE {{schema}}.{{table}} IN EXCLUSIVE MODE;
  NOTIFY {{channel}};
  RETURN QUERY INSERT INTO {{schema}}.{{table}} (originator_id, originator_version, topic, state)
    SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id;
END $$
"""


def _is_postgres(datastore: Any) -> bool:
    return type(datastore).__module__.startswith("eventsourcing.postgres")


def _is_sqlite(datastore: Any) -> bool:
    return type(datastore).__module__.startswith("eventsourcing.sqlite")


@contextlib.contextmanager
def schema_lock(datastore: Any) -> Iterator[None]:
    """Hold the schema lock of this database (PostgreSQL: an advisory lock per schema, released
    when the block ends or the process dies). SQLite serialises schema changes itself."""
    if not _is_postgres(datastore):
        yield
        return
    with datastore.get_connection() as conn:  # autocommit: the lock belongs to the session
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"dialer-schema/{datastore.schema}",))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock_all()")


def ensure_event_schema(recorder: Any) -> None:
    """Create the events table (the library's statements) and the gap trigger, once, under the lock."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:  # the memory store: the gap check is in ``RecorderEventStore.append``
        return
    table = recorder.events_table_name
    if _is_sqlite(datastore):
        recorder.create_table()
        with datastore.transaction(commit=True) as curs:
            curs.execute(_SQLITE_GAP_TRIGGER.format(table=table))
        return
    if not _is_postgres(datastore):  # pragma: no cover - only three stores exist
        raise ValueError(f"no schema set-up for {type(datastore).__name__}")
    from psycopg.sql import SQL, Identifier

    schema = datastore.schema
    ids = {"schema": Identifier(schema), "table": Identifier(table)}
    with schema_lock(datastore), datastore.get_connection() as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgname = %s AND c.relname = %s AND n.nspname = %s",
            (GAP_TRIGGER, table, schema),
        ).fetchone()
        appends = conn.execute(
            "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = %s AND n.nspname = %s",
            (APPEND_FUNCTION, schema),
        ).fetchone()
        conn.commit()
        if exists:  # made by another process, maybe after this recorder was built: fetch its types
            datastore.register_type_adapters()
        else:
            recorder.create_table()
            with conn.transaction():
                conn.execute(SQL(_PG_GAP_FUNCTION).format(**ids))
                conn.execute(SQL(_PG_GAP_TRIGGER).format(**ids))
        if not appends:  # also on a database made before ADR 0035
            timeout = SQL("{0}").format(f"{int(datastore.lock_timeout)}s")
            conn.execute(SQL(_PG_APPEND_FUNCTION).format(**ids, channel=Identifier(recorder.channel_name), lock_timeout=timeout))


def ensure_view_schema(view: Any) -> None:
    """Create a persisted view's tables (its ``create_table``) under the same lock."""
    with schema_lock(view.datastore):
        view.create_table()
