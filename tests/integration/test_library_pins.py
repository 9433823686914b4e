"""The eventsourcing library's non-public names this project calls (ADR 0009), pinned: if a
release renames one or changes its parameters, this fails first and says which, instead of a store
failing at run time. The behaviour behind each is covered by the store, import and view tests."""

from __future__ import annotations

import inspect

import pytest
from eventsourcing.persistence import AggregateRecorder
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnectionPool, SQLiteTrackingRecorder

PINS = [
    # (class, name, the parameters it must take) -- where this project calls it
    (PostgresApplicationRecorder, "_lock_table", ["self", "curs"]),  # eventstore: COPY and transaction() under the library's lock
    (PostgresApplicationRecorder, "_notify_channel", ["self", "curs"]),  # eventstore: followers woken
    (PostgresApplicationRecorder, "_insert_stored_events", ["self", "curs", "stored_events", "kwargs"]),  # eventstore.transaction()
    (PostgresApplicationRecorder, "_fetch_ids_after_insert_events", ["self", "curs", "stored_events", "_"]),  # positions in transaction()
    (SQLiteApplicationRecorder, "_insert_events", ["self", "c", "stored_events", "_"]),  # eventstore.transaction() on SQLite
    (POPOApplicationRecorder, "_assert_uniqueness", ["self", "stored_events", "_"]),  # the memory store's gap check
    (PostgresTrackingRecorder, "_insert_tracking", ["self", "curs", "tracking"]),  # views: a page and its position in one transaction
    (SQLiteTrackingRecorder, "_insert_tracking", ["self", "c", "tracking"]),
    (PostgresDatastore, "register_type_adapters", ["self"]),  # schema: types made by another process
]


@pytest.mark.parametrize(("cls", "name", "params"), PINS, ids=[f"{c.__name__}.{n}" for c, n, _ in PINS])
def test_a_library_internal_the_project_calls_is_still_there_with_its_parameters(cls, name, params):
    assert hasattr(cls, name), f"eventsourcing {cls.__name__} has no {name} any more"
    assert list(inspect.signature(getattr(cls, name)).parameters) == params


def test_the_library_attributes_the_project_reads_are_still_there():
    assert "channel_name" in inspect.getsource(PostgresApplicationRecorder.__init__)  # views: LISTEN
    assert "db_name" in inspect.getsource(SQLiteConnectionPool.__init__)  # engine_lock: the lock file beside the database
    assert "_stored_events_index" in inspect.getsource(POPOApplicationRecorder.__mro__[1].__init__)  # the memory gap check
    assert issubclass(POPOApplicationRecorder, AggregateRecorder)
