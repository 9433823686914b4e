"""Persisted views on the eventsourcing library's tracking recorders (SQLite, PostgreSQL): the
machinery every view shares (ADR 0005, ADR 0008).

Each view row and the tracking position are written in one transaction, so processing is exactly
once and resumes after a crash from the last committed position. Rows carry a *generation*:
``rebuild`` builds a new generation from position 0 beside the live one while the engine keeps
writing, catches up, then switches the live pointer in one transaction and drops the old rows, so a
reader never sees half-built figures. Every writer advances a view through ``catch_up`` and the
generation's compare-and-set tracking row: one position per view, whoever advances it.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from adapters.persistence.eventstore import RecorderEventStore, open_factory
from adapters.persistence.schema import ensure_view_schema
from dialer_domain.service_layer.ports import RecordedEvent

APP_NAME = "stored"  # the library names tables after the application: ``stored_events``

GENERATIONS_TABLE = "CREATE TABLE IF NOT EXISTS {p}dialer_view_generation (projection TEXT PRIMARY KEY, live INTEGER NOT NULL, next INTEGER NOT NULL)"


#: On PostgreSQL, an upsert of this many rows or more goes by COPY.
COPY_ROWS = 50


@attrs.frozen
class Upsert:
    """How a page's rows of one table are written: inserted, or on ``conflict`` updated by
    ``update``; ``types``: each column's SQL type, in ``cols``' order (a one-statement page casts
    its arrays to them, ADR 0033)."""

    table: str
    cols: tuple[str, ...]
    conflict: str
    update: str
    types: tuple[str, ...] = ()


class PositionMoved(RuntimeError):
    """Another writer advanced this view generation while a page was being folded: nothing of the
    page was written; catch up again from the new position."""


class GenerationSwitched(RuntimeError):
    """A rebuild made another generation live while a page was being folded into the old one:
    nothing of the page was written; catch ``live`` up instead."""

    def __init__(self, projection: str, gen: int, live: int) -> None:
        super().__init__(f"{projection}: generation {live} is live, not {gen}")
        self.live = live


class GenerationalView:
    """What every persisted view shares, whichever dialect: generations, the tracking position
    check, upserts. A subclass names its projection, its tables and their schema."""

    datastore: Any
    placeholder = "%s"
    projection = ""
    tables: tuple[str, ...] = ()
    schema: tuple[str, ...] = ()

    def _prefix(self) -> str:
        return ""

    def _sql(self, statement: str) -> str:
        s = statement.replace("{p}", self._prefix())
        return s.replace("%s", self.placeholder) if self.placeholder != "%s" else s

    def _create_view_tables(self, curs: Any) -> None:
        for stmt in (GENERATIONS_TABLE, *self.schema):
            curs.execute(self._sql(stmt))

    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        """A cursor for reads. Here the datastore's read transaction; on PostgreSQL no transaction
        (ADR 0033): a statement of its own is its own snapshot, and a BEGIN and a ROLLBACK around a
        single SELECT would each cost a round trip. A read of several statements that must agree
        takes ``self.datastore.transaction`` instead."""
        return self.datastore.transaction(commit=False)  # type: ignore[no-any-return]

    def _tracking_name(self, gen: int) -> str:
        return f"{APP_NAME}#{self.projection}@{gen}"

    def _tracking_table(self) -> str:
        return "tracking"

    def _lock_clause(self) -> str:
        return ""

    # ------------------------------------------------------------------ generations

    def live_generation(self) -> int:
        with self.datastore.transaction(commit=True) as curs:
            return self._live(curs)

    def _live(self, curs: Any) -> int:
        curs.execute(self._sql("SELECT live FROM {p}dialer_view_generation WHERE projection = %s"), (self.projection,))
        row = curs.fetchone()
        if row is None:
            curs.execute(
                self._sql("INSERT INTO {p}dialer_view_generation (projection, live, next) VALUES (%s, 1, 2) ON CONFLICT DO NOTHING"),
                (self.projection,),
            )
            return 1
        return int(row["live"])

    def _write_first(self, curs: Any) -> None:
        """Take the write lock before reading: SQLite refuses (at once, "database is locked") to
        upgrade a transaction that read before another connection committed."""
        curs.execute(self._sql("UPDATE {p}dialer_view_generation SET live = live WHERE projection = %s"), (self.projection,))

    def new_generation(self) -> int:
        with self.datastore.transaction(commit=True) as curs:
            self._write_first(curs)
            self._live(curs)
            curs.execute(self._sql("SELECT next FROM {p}dialer_view_generation WHERE projection = %s"), (self.projection,))
            gen = int(curs.fetchone()["next"])
            curs.execute(self._sql("UPDATE {p}dialer_view_generation SET next = next + 1 WHERE projection = %s"), (self.projection,))
            return gen

    def switch_to(self, gen: int) -> int:
        """Make ``gen`` live and drop the rows of every older generation, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            self._write_first(curs)
            old = self._live(curs)
            curs.execute(self._sql("UPDATE {p}dialer_view_generation SET live = %s WHERE projection = %s"), (gen, self.projection))
            for table in self.tables:
                curs.execute(self._sql(f"DELETE FROM {{p}}{table} WHERE gen < %s"), (gen,))
            return old

    def gen_position(self, gen: int) -> int:
        found: int | None = self.max_tracking_id(self._tracking_name(gen))  # type: ignore[attr-defined]
        return found or 0

    def _advance(self, curs: Any, gen: int, start: int, position: int) -> None:
        """Record the page's tracking position, in the page's transaction, only if the generation
        is still where the page started (one writer at a time; a second one gets PositionMoved)."""
        name = self._tracking_name(gen)
        # A write first: the row to lock exists from then on, and on SQLite the transaction holds the
        # write lock from its first statement (a read first would have to upgrade, which SQLite
        # refuses at once, "database is locked", when another connection writes meanwhile).
        curs.execute(self._sql(f"INSERT INTO {{p}}{self._tracking_table()} VALUES (%s, 0) ON CONFLICT DO NOTHING"), (name,))
        curs.execute(
            self._sql(f"SELECT notification_id FROM {{p}}{self._tracking_table()} WHERE application_name = %s{self._lock_clause()}"), (name,)
        )
        row = curs.fetchone()
        current = int(row["notification_id"]) if row and row["notification_id"] is not None else 0
        if current != start:
            raise PositionMoved(f"{self.projection} generation {gen} moved to {current} while a page from {start} was folded")
        self._insert_tracking(curs, Tracking(name, position))  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def _page(self, gen: int, start: int, position: int, live_only: bool = False) -> Iterator[Any]:
        """The transaction that writes a page: the generation's tracking position
        moved from ``start`` to ``position`` (``PositionMoved`` if another writer moved it first)
        and, with ``live_only``, only while ``gen`` is live (else ``GenerationSwitched``), then
        whatever the block writes with the cursor it is given. Nothing is written unless all is."""
        with self._writing() as curs:
            if not self._moved_in_one_statement(curs, gen, start, position, live_only):
                self._advance(curs, gen, start, position)
                if live_only and (live := self._live(curs)) != gen:
                    raise GenerationSwitched(self.projection, gen, live)
            yield curs

    def _moved_in_one_statement(self, curs: Any, gen: int, start: int, position: int, live_only: bool) -> bool:
        """Where the database can, the page's compare-and-set as one statement (ADR 0039): True,
        the position moved; False, nothing changed, and the statements one by one say why."""
        return False

    def _page_in_one_statement(self, gen: int, start: int, position: int, live_only: bool, upsert: Upsert, rows: Sequence[Sequence[Any]]) -> bool:
        """Write a small page of one table's rows in one statement where the database can (ADR 0033),
        returning whether it did; False: nothing was written, and ``_page`` does it."""
        return False

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """A page's write transaction. A page is derived from the log, and its rows and its
        tracking position commit together: where the database allows it, its commit does not wait
        for the disk (ADR 0034)."""
        return self.datastore.transaction(commit=True)  # type: ignore[no-any-return]

    def _upsert(self, curs: Any, table: str, cols: Sequence[str], conflict: str, update: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        marks = ", ".join(["%s"] * len(cols))
        curs.executemany(
            self._sql(f"INSERT INTO {{p}}{table} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT ({conflict}) DO UPDATE SET {update}"), rows
        )


# ---------------------------------------------------------------------- processing


class ViewProjection(Projection[Any]):
    """A library ``Projection`` whose pages are folded by ``catch_up``: ``begin`` makes the state a
    catch-up carries from page to page (one writer per generation), ``process_batch`` folds a page
    and commits it with its tracking position. There is no other way in: the library's
    ``ProjectionRunner`` kept its own position beside the view's and counted twice (ADR 0008)."""

    topics: tuple[str, ...] = ()
    #: the fields the fold reads, by event class: only these are decoded (ADR 0037); None: all
    reads: Mapping[type[Any], tuple[str, ...]] | None = None

    def begin(self, gen: int) -> Any:
        return None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        raise NotImplementedError("views advance by pages through catch_up, never event by event")

    def process_batch(self, gen: int, start: int, batch: Sequence[RecordedEvent], carry: Any) -> None:
        raise NotImplementedError


def open_view(url: str, projection: str = "statistics") -> Any:
    """The persisted view of that projection (``statistics`` or ``queue``), its tables created."""
    from adapters.views.queue import PostgresQueueView, SQLiteQueueView
    from adapters.views.statistics import PROJECTION, PostgresStatisticsView, SQLiteStatisticsView

    kinds: dict[str, tuple[type, type]] = {
        PROJECTION: (SQLiteStatisticsView, PostgresStatisticsView),
        "queue": (SQLiteQueueView, PostgresQueueView),
    }
    if projection not in kinds:
        raise ValueError(f"unknown projection {projection!r}; there are: {', '.join(kinds)}")
    factory = open_factory(url)
    sqlite_class, postgres_class = kinds[projection]
    if url.startswith("sqlite"):
        view = sqlite_class(datastore=factory.datastore)  # type: ignore[attr-defined]
    elif url.startswith("postgres"):
        view = postgres_class(datastore=factory.datastore, tracking_table_name="dialer_tracking")  # type: ignore[attr-defined]
    else:
        raise ValueError(f"views are persisted in SQLite or PostgreSQL, not {url!r}")
    ensure_view_schema(view)
    view.factory = factory
    return view


def catch_up(
    store: RecorderEventStore,
    view: Any,
    gen: int | None = None,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
    prefetch: bool = True,
) -> int:
    """Fold what the generation has not seen yet, one transaction per page (with ``prefetch``, the
    next page is read while this one is folded). Returns how many events were folded."""
    gen = view.live_generation() if gen is None else gen
    projection: ViewProjection = view.projection_class(view)
    carry = projection.begin(gen)
    topics, reads = projection.topics, projection.reads
    head = store.max_position() if progress is not None else 0
    start = view.gen_position(gen)
    done = 0
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialer-read")) if prefetch else None
        read: Callable[[int], Any] = (
            (lambda after: reader.submit(store.read, after, batch_size, topics, reads))
            if reader
            else (lambda after: store.read(after, batch_size, topics, reads))
        )
        pending = read(start)
        while True:
            batch = pending.result() if reader else pending
            if not batch:
                return done
            if stop_after is None or done + len(batch) < stop_after:
                pending = read(batch[-1].position)
            projection.process_batch(gen, start, batch, carry)
            start = batch[-1].position
            done += len(batch)
            if progress is not None:
                progress(batch[-1].position, max(head, batch[-1].position))
            if stop_after is not None and done >= stop_after:
                return done
    return done


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = (700, 10, 10)


@contextlib.contextmanager
def fewer_collections(threshold0: int = 200_000) -> Iterator[None]:
    """For a bulk fold: the cyclic garbage collector runs after ``threshold0`` allocations instead
    of Python's 700. A page of decoded events is made and dropped by reference counting (no
    cycles), yet at 700 the collector walked the young objects some 60 times a page of 5,000 and
    promoted the page's events into the older generations it then walked too: a third of
    decoding's time (``bench/rebuild``). 200,000, ten allocations per event of a rebuild's page
    (``REBUILD_BATCH``), was measured against 50,000 at that page: 6.9 / 7.3 against 7.7 / 7.5 µs
    per event. A simulated day (``entrypoints.simulate``) runs under it too: 12.5 against 13.2 s
    of CPU per 8 hours (median of four alternating 2-hour days each). Process-wide while any of
    them runs; the previous thresholds come back when the last one ends."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(threshold0, _gc_saved[0]), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


#: A rebuild's page: one transaction per 20,000 events. A page writes each contact, agent and
#: counter row it touched once, so larger pages write fewer rows (bench/rebuild, 2026-12-07:
#: 5,000 took 8.5-8.7 µs an event of the log, 20,000 took 7.5-7.7, and 50,000 7.1-7.3 but with a
#: peak of 186 MB against 138). A follower's catch-up keeps 5,000: its pages are what came since its
#: last look.
REBUILD_BATCH = 20_000


def rebuild(
    store: RecorderEventStore,
    view: Any,
    batch_size: int = REBUILD_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Regenerate from position 0 beside the live view, catch up with what was written meanwhile,
    then switch. Returns (new generation, events folded)."""
    gen = view.new_generation()
    with fewer_collections():
        done = catch_up(store, view, gen, batch_size, progress)
        done += catch_up(store, view, gen, batch_size)  # what the engine wrote during the rebuild
    view.switch_to(gen)
    return gen, done


def follow(
    store: RecorderEventStore,
    view: Any,
    timeout: float | None = None,
    *,
    stop: threading.Event | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> int:
    """Keep the live view current (blocks until ``timeout``, ``stop`` or Ctrl-C); returns how many
    events it folded. Every page goes through ``catch_up`` and the view's own tracking position
    (compare-and-set), so a view is advanced exactly once whoever advances it: this follower, a
    rebuild that switches generations under it, or the engine folding the queue. On PostgreSQL it
    wakes on the store's NOTIFY; on SQLite, whose recorder has no subscription, every half second.
    ``progress(folded_now, folded_in_all, lag)`` is called after each round that folded something."""
    import time

    stop = stop or threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    folded = 0
    with contextlib.ExitStack() as stack, contextlib.suppress(KeyboardInterrupt):
        wait = _notifications(store, stack) or (lambda seconds: stop.wait(seconds))
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                done = catch_up(store, view, prefetch=False)
            except PositionMoved:  # another writer folded the same page first: go on from there
                continue
            folded += done
            if done and progress is not None:
                progress(done, folded, max(0, store.max_position() - view.gen_position(view.live_generation())))
            if not done:
                wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
    return folded


def _notifications(store: RecorderEventStore, stack: contextlib.ExitStack) -> Callable[[float], None] | None:
    """On PostgreSQL: a wait that returns as soon as an append commits (LISTEN on the channel the
    library's insert notifies), or after the given seconds."""
    from eventsourcing.postgres import PostgresApplicationRecorder

    rec = store.recorder
    if not isinstance(rec, PostgresApplicationRecorder):
        return None
    from psycopg.sql import SQL, Identifier

    conn = stack.enter_context(rec.datastore.get_connection())
    conn.execute(SQL("LISTEN {0}").format(Identifier(rec.channel_name)))
    stack.callback(conn.execute, SQL("UNLISTEN {0}").format(Identifier(rec.channel_name)))

    def wait(seconds: float) -> None:
        for _ in conn.notifies(timeout=seconds, stop_after=1):
            pass

    return wait
