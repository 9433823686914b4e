"""The statistics view, persisted: SQLite and PostgreSQL, on the eventsourcing library's projection
machinery (``Projection`` and its tracking recorders).

Each view row and the tracking position are written in one transaction, so processing is exactly
once and resumes after a crash from the last committed position. Rows carry a *generation*:
``rebuild`` builds a new generation from position 0 beside the live one while the engine keeps
writing, catches up, then switches the live pointer in one transaction and drops the old rows, so a
reader never sees half-built figures.

The fold itself is ``adapters.statistics.StatisticsFold``; this module loads the little state the
fold needs between batches (the contacts' campaigns and pending callbacks, agents' current states,
campaigns' time zones) and stores what a batch changed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters.eventstore import RecorderEventStore, open_event_store, open_factory
from adapters.schema import ensure_view_schema
from adapters.statistics import AgentFigures, CampaignFigures, PendingCallback, StatisticsFold, _AgentTrack
from dialer_domain.events import CONTACT_EVENTS, ContactImported
from dialer_domain.ports import RecordedEvent
from dialer_domain.values import AgentState

APP_NAME = "stored"  # the library names tables after the application: ``stored_events``
PROJECTION = "statistics"
CONTACT_CACHE = 500_000  # contacts whose campaign a catch-up keeps in memory between pages
_COUNTER_COLS = ("gen", "kind", "k1", "k2", "k3", "metric", "value")
#: The events the statistics fold reads; the others (queueing, pacing decisions ...) are not read at all.
STATISTICS_TOPICS: tuple[str, ...] = tuple(cls.NAME for cls in StatisticsFold.EVENTS)

_GENERATIONS = "CREATE TABLE IF NOT EXISTS {p}dialer_view_generation (projection TEXT PRIMARY KEY, live INTEGER NOT NULL, next INTEGER NOT NULL)"
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS {p}dialer_stats_counter (gen INTEGER NOT NULL, kind TEXT NOT NULL, k1 TEXT NOT NULL, "
    "k2 TEXT NOT NULL, k3 INTEGER NOT NULL, metric TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (gen, kind, k1, k2, k3, metric))",
    "CREATE TABLE IF NOT EXISTS {p}dialer_stats_contact (gen INTEGER NOT NULL, contact_id TEXT NOT NULL, "
    "campaign_id TEXT NOT NULL, callback_pending INTEGER NOT NULL, PRIMARY KEY (gen, contact_id))",
    "CREATE TABLE IF NOT EXISTS {p}dialer_stats_agent (gen INTEGER NOT NULL, session_id TEXT NOT NULL, agent_id TEXT NOT NULL, "
    "state TEXT NOT NULL, since TEXT, pause_reason TEXT, campaign_id TEXT, PRIMARY KEY (gen, session_id))",
    "CREATE TABLE IF NOT EXISTS {p}dialer_stats_campaign (gen INTEGER NOT NULL, campaign_id TEXT NOT NULL, name TEXT NOT NULL, "
    "tz TEXT, PRIMARY KEY (gen, campaign_id))",
    # each campaign's callback window (R12); a generation built before this table existed reads the default
    "CREATE TABLE IF NOT EXISTS {p}dialer_stats_callback_window (gen INTEGER NOT NULL, campaign_id TEXT NOT NULL, "
    "seconds INTEGER NOT NULL, PRIMARY KEY (gen, campaign_id))",
]

# dialer_stats_contact.callback_pending: 0 none; > 1 the pending callback's deadline (epoch seconds);
# < 0 minus the deadline of one already counted missed; 1 (written before deadlines were kept) pending, deadline unknown.
_LEGACY_PENDING = 1


def _encode_pending(cb: PendingCallback | None) -> int:
    if cb is None:
        return 0
    return -int(cb.deadline) if cb.missed else max(2, int(cb.deadline))


def _decode_pending(campaign_id: UUID, value: int) -> PendingCallback | None:
    if not value:
        return None
    if value == _LEGACY_PENDING:
        return PendingCallback(campaign_id, float("inf"))
    return PendingCallback(campaign_id, float(abs(value)), missed=value < 0)


class PositionMoved(RuntimeError):
    """Another writer advanced this view generation while a page was being folded: nothing of the
    page was written; catch up again from the new position."""


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
        for stmt in (_GENERATIONS, *self.schema):
            curs.execute(self._sql(stmt))

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

    def new_generation(self) -> int:
        with self.datastore.transaction(commit=True) as curs:
            self._live(curs)
            curs.execute(self._sql("SELECT next FROM {p}dialer_view_generation WHERE projection = %s"), (self.projection,))
            gen = int(curs.fetchone()["next"])
            curs.execute(self._sql("UPDATE {p}dialer_view_generation SET next = next + 1 WHERE projection = %s"), (self.projection,))
            return gen

    def switch_to(self, gen: int) -> int:
        """Make ``gen`` live and drop the rows of every older generation, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
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

    def _upsert(self, curs: Any, table: str, cols: Sequence[str], conflict: str, update: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        marks = ", ".join(["%s"] * len(cols))
        curs.executemany(
            self._sql(f"INSERT INTO {{p}}{table} ({', '.join(cols)}) VALUES ({marks}) ON CONFLICT ({conflict}) DO UPDATE SET {update}"), rows
        )


class StatisticsViewMixin(GenerationalView):
    """The statistics view's SQL, shared by the SQLite and PostgreSQL views."""

    projection = PROJECTION
    tables = ("dialer_stats_counter", "dialer_stats_contact", "dialer_stats_agent", "dialer_stats_campaign", "dialer_stats_callback_window")
    schema = tuple(_SCHEMA)

    # ------------------------------------------------------------------ the fold's state

    def load_fold(self, gen: int, fold: StatisticsFold, contact_ids: Sequence[UUID], *, whole: bool = True) -> None:
        """Load the fold's state for this generation: campaigns and agents (``whole``), and the
        given contacts' campaigns and pending callbacks."""
        with self.datastore.transaction(commit=False) as curs:
            if whole:
                self._load_campaigns_and_agents(gen, fold, curs)
            ids = [str(c) for c in contact_ids]
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join(["%s"] * len(chunk))
                curs.execute(
                    self._sql(
                        f"SELECT contact_id, campaign_id, callback_pending FROM {{p}}dialer_stats_contact WHERE gen = %s AND contact_id IN ({marks})"
                    ),
                    (gen, *chunk),
                )
                for row in curs.fetchall():
                    cid = UUID(row["contact_id"])
                    campaign_id = fold._contact_campaign[cid] = UUID(row["campaign_id"])
                    if cid not in fold._callback_pending and (cb := _decode_pending(campaign_id, row["callback_pending"])) is not None:
                        fold.track_callback(cid, cb)

    def _load_campaigns_and_agents(self, gen: int, fold: StatisticsFold, curs: Any) -> None:
        curs.execute(self._sql("SELECT campaign_id, name, tz FROM {p}dialer_stats_campaign WHERE gen = %s"), (gen,))
        for row in curs.fetchall():
            cid = UUID(row["campaign_id"])
            fold.campaign_names[cid] = row["name"]
            if row["tz"]:
                fold._campaign_tz[cid] = row["tz"]
        curs.execute(self._sql("SELECT campaign_id, seconds FROM {p}dialer_stats_callback_window WHERE gen = %s"), (gen,))
        for row in curs.fetchall():
            fold._campaign_window[UUID(row["campaign_id"])] = int(row["seconds"])
        # every pending callback: the fold counts one missed when the log passes its deadline
        curs.execute(self._sql("SELECT contact_id, campaign_id, callback_pending FROM {p}dialer_stats_contact WHERE gen = %s AND callback_pending > 0"), (gen,))
        for row in curs.fetchall():
            cid = UUID(row["contact_id"])
            campaign_id = fold._contact_campaign[cid] = UUID(row["campaign_id"])
            cb = _decode_pending(campaign_id, row["callback_pending"])
            if cb is not None:
                fold.track_callback(cid, cb)
        curs.execute(
            self._sql("SELECT session_id, agent_id, state, since, pause_reason, campaign_id FROM {p}dialer_stats_agent WHERE gen = %s"),
            (gen,),
        )
        for row in curs.fetchall():
            fold._agents[UUID(row["session_id"])] = _AgentTrack(
                row["agent_id"],
                AgentState(row["state"]),
                datetime.fromisoformat(row["since"]) if row["since"] else None,
                row["pause_reason"],
                UUID(row["campaign_id"]) if row["campaign_id"] else None,
            )

    def commit_fold(self, gen: int, fold: StatisticsFold, start: int, tracking: Tracking) -> None:
        """Write what the fold counted and changed, and the tracking position, in one transaction."""
        counters = list(_counter_rows(fold))
        contacts = [
            (gen, str(c), str(fold._contact_campaign[c]), _encode_pending(fold._callback_pending.get(c)))
            for c in fold.dirty_contacts
            if c in fold._contact_campaign
        ]
        agents = [
            (
                gen,
                str(sid),
                t.agent_id,
                t.state.value,
                t.since.isoformat() if t.since else None,
                t.pause_reason,
                str(t.campaign) if t.campaign else None,
            )
            for sid, t in ((sid, fold._agents[sid]) for sid in fold.dirty_agents if sid in fold._agents)
        ]
        campaigns = [(gen, str(c), fold.campaign_names.get(c, ""), fold._campaign_tz.get(c)) for c in fold.dirty_campaigns]
        with self.datastore.transaction(commit=True) as curs:
            self._advance(curs, gen, start, tracking.notification_id)
            self._upsert(
                curs,
                "dialer_stats_counter",
                _COUNTER_COLS,
                "gen, kind, k1, k2, k3, metric",
                "value = {p}dialer_stats_counter.value + excluded.value",
                [(gen, *row) for row in counters],
            )
            self._upsert(
                curs,
                "dialer_stats_contact",
                ("gen", "contact_id", "campaign_id", "callback_pending"),
                "gen, contact_id",
                "campaign_id = excluded.campaign_id, callback_pending = excluded.callback_pending",
                contacts,
            )
            self._upsert(
                curs,
                "dialer_stats_agent",
                ("gen", "session_id", "agent_id", "state", "since", "pause_reason", "campaign_id"),
                "gen, session_id",
                "agent_id = excluded.agent_id, state = excluded.state, since = excluded.since, "
                "pause_reason = excluded.pause_reason, campaign_id = excluded.campaign_id",
                agents,
            )
            self._upsert(
                curs,
                "dialer_stats_campaign",
                ("gen", "campaign_id", "name", "tz"),
                "gen, campaign_id",
                "name = excluded.name, tz = excluded.tz",
                campaigns,
            )
            self._upsert(
                curs,
                "dialer_stats_callback_window",
                ("gen", "campaign_id", "seconds"),
                "gen, campaign_id",
                "seconds = excluded.seconds",
                [(gen, str(c), fold._campaign_window[c]) for c in fold.dirty_campaigns if c in fold._campaign_window],
            )

    # ------------------------------------------------------------------ reading

    def counters(
        self, gen: int | None = None, kind: str | None = None, k1: str | None = None, k2: str | None = None
    ) -> list[tuple[str, str, str, int, str, float]]:
        gen = self.live_generation() if gen is None else gen
        where = ["gen = %s", "value <> 0"]  # a missed callback later kept late leaves a zero behind
        params: list[Any] = [gen]
        for col, val in (("kind", kind), ("k1", k1), ("k2", k2)):
            if val is not None:
                where.append(f"{col} = %s")
                params.append(val)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self._sql(
                    f"SELECT kind, k1, k2, k3, metric, value FROM {{p}}dialer_stats_counter WHERE {' AND '.join(where)} ORDER BY kind, k1, k2, k3, metric"
                ),
                tuple(params),
            )
            return [(r["kind"], r["k1"], r["k2"], int(r["k3"]), r["metric"], float(r["value"])) for r in curs.fetchall()]

    def campaign_names(self, gen: int | None = None) -> dict[str, str]:
        gen = self.live_generation() if gen is None else gen
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql("SELECT campaign_id, name FROM {p}dialer_stats_campaign WHERE gen = %s"), (gen,))
            return {r["campaign_id"]: r["name"] for r in curs.fetchall()}


class SQLiteDialect:
    """SQLite: ``?`` placeholders, the library's ``tracking`` table, whole-database write locks."""

    placeholder = "?"
    schema: tuple[str, ...]

    def construct_create_table_statements(self) -> list[str]:
        base: list[str] = super().construct_create_table_statements()  # type: ignore[misc]
        return [*base, *(self._sql(s) for s in (_GENERATIONS, *self.schema))]  # type: ignore[attr-defined]


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

    def _upsert(self, curs: Any, table: str, cols: Sequence[str], conflict: str, update: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows: COPY into a temporary table, then one INSERT ... ON CONFLICT from it."""
        if len(rows) < 50:
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


class SQLiteStatisticsView(SQLiteDialect, StatisticsViewMixin, SQLiteTrackingRecorder):
    pass


class PostgresStatisticsView(PostgresDialect, StatisticsViewMixin, PostgresTrackingRecorder):
    pass


def _counter_rows(fold: StatisticsFold) -> Iterator[tuple[str, str, str, int, str, float]]:
    """The fold's figures as additive counter rows: (kind, k1, k2, k3, metric, value)."""
    for (campaign_id, day, hour), fig in fold.by_campaign_hour.items():
        for name in (
            "dials",
            "human",
            "machine",
            "busy",
            "no_answer",
            "failed",
            "cancelled",
            "connects",
            "abandons",
            "talk_seconds",
            "wrapup_seconds",
            "callbacks_set",
            "callbacks_kept",
            "callbacks_late",
            "callbacks_missed",
        ):
            v = getattr(fig, name)
            if v:
                yield ("campaign_hour", str(campaign_id), day, hour, name, float(v))
        for code, n in fig.dispositions.items():
            yield ("campaign_hour", str(campaign_id), day, hour, f"disposition:{code}", float(n))
    for (agent_id, day), afig in fold.by_agent_day.items():
        for state, secs in afig.seconds.items():
            if secs:
                yield ("agent_day", agent_id, day, 0, f"seconds:{state}", secs)
        for reason, secs in afig.pause_seconds.items():
            if secs:
                yield ("agent_day", agent_id, day, 0, f"pause:{reason}", secs)
        if afig.connects:
            yield ("agent_day", agent_id, day, 0, "connects", float(afig.connects))
        for cid, n in afig.campaign_connects.items():
            yield ("agent_day", agent_id, day, 0, f"campaign:{cid}", float(n))


def figures_from_counters(
    rows: Sequence[tuple[str, str, str, int, str, float]],
) -> tuple[dict[tuple[str, str, int], CampaignFigures], dict[tuple[str, str], AgentFigures]]:
    camp: dict[tuple[str, str, int], CampaignFigures] = {}
    agents: dict[tuple[str, str], AgentFigures] = {}
    for kind, k1, k2, k3, metric, value in rows:
        if kind == "campaign_hour":
            fig = camp.setdefault((k1, k2, k3), CampaignFigures())
            if metric.startswith("disposition:"):
                fig.dispositions[metric.split(":", 1)[1]] = int(value)
            else:
                setattr(fig, metric, type(getattr(fig, metric))(value))
        else:
            afig = agents.setdefault((k1, k2), AgentFigures())
            if metric.startswith("seconds:"):
                afig.seconds[metric.split(":", 1)[1]] = value
            elif metric.startswith("pause:"):
                afig.pause_seconds[metric.split(":", 1)[1]] = value
            elif metric.startswith("campaign:"):
                afig.campaign_connects[metric.split(":", 1)[1]] = int(value)
            elif metric == "connects":
                afig.connects = int(value)
    return camp, agents


def fold_counter_rows(fold: StatisticsFold) -> list[tuple[str, str, str, int, str, float]]:
    """The in-memory fold's figures in the persisted rows' shape, sorted (for comparisons)."""
    return sorted(_counter_rows(fold))


# ---------------------------------------------------------------------- processing


class ViewProjection(Projection[Any]):
    """A library ``Projection`` whose pages are folded by ``catch_up``: ``begin`` makes the state a
    catch-up carries from page to page (one writer per generation), ``process_batch`` folds a page
    and commits it with its tracking position. There is no other way in: the library's
    ``ProjectionRunner`` kept its own position beside the view's and counted twice (ADR 0008)."""

    topics: tuple[str, ...] = ()

    def begin(self, gen: int) -> Any:
        return None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        raise NotImplementedError("views advance by pages through catch_up, never event by event")

    def process_batch(self, gen: int, start: int, batch: Sequence[RecordedEvent], carry: Any) -> None:
        raise NotImplementedError


class StatisticsProjection(ViewProjection):
    name = PROJECTION
    topics = STATISTICS_TOPICS

    def begin(self, gen: int) -> StatisticsFold:
        fold = StatisticsFold()
        self.view.load_fold(gen, fold, [])
        return fold

    def process_batch(self, gen: int, start: int, batch: Sequence[RecordedEvent], carry: Any) -> None:
        """Fold a page and commit it with its tracking position. The fold carried from the previous
        page keeps its state, so only unknown contacts are loaded."""
        if not batch:
            return
        fold: StatisticsFold = carry
        known = fold._contact_campaign
        if len(known) > CONTACT_CACHE:
            known.clear()
            # pending callbacks stay: they are few, and a missed one is counted from them
        contacts = list(
            {
                r.event.originator_id
                for r in batch
                if isinstance(r.event, CONTACT_EVENTS) and not isinstance(r.event, ContactImported) and r.event.originator_id not in known
            }
        )
        if contacts:
            self.view.load_fold(gen, fold, contacts, whole=False)
        fold.apply_all(batch)
        try:
            self.view.commit_fold(gen, fold, start, Tracking(APP_NAME, batch[-1].position))
        finally:
            fold.drain()


def open_view(url: str, projection: str = PROJECTION) -> Any:
    """The persisted view of that projection (``statistics`` or ``queue``), its tables created."""
    from adapters.queue_view import PostgresQueueView, SQLiteQueueView

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
    topics = projection.topics
    head = store.max_position() if progress is not None else 0
    start = view.gen_position(gen)
    done = 0
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialer-read")) if prefetch else None
        read: Callable[[int], Any] = (
            (lambda after: reader.submit(store.read, after, batch_size, topics)) if reader else (lambda after: store.read(after, batch_size, topics))
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


def rebuild(
    store: RecorderEventStore,
    view: Any,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Regenerate from position 0 beside the live view, catch up with what was written meanwhile,
    then switch. Returns (new generation, events folded)."""
    gen = view.new_generation()
    done = catch_up(store, view, gen, batch_size, progress)
    done += catch_up(store, view, gen, batch_size)  # what the engine wrote during the rebuild
    view.switch_to(gen)
    return gen, done


def follow(
    url: str,
    timeout: float | None = None,
    projection: str = PROJECTION,
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

    store = open_event_store(url)
    view = open_view(url, projection)
    stop = stop or threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    folded = 0
    with contextlib.ExitStack() as stack, contextlib.suppress(KeyboardInterrupt):
        stack.callback(store.close)
        stack.callback(view.factory.close)
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


StatisticsViewMixin.projection_class = StatisticsProjection  # type: ignore[attr-defined]
