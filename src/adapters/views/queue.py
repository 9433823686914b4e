"""The queue view, persisted (issue 5): per campaign, which contacts are dialable next and when,
in R11 order, in SQLite or PostgreSQL, on the same generation and tracking machinery as the
statistics (``adapters.views.statistics``).

One row per contact and generation: its state, its assigned agent, when it is due, and its R11
order key as columns, with two indexes per campaign: the order key (what is next) and the due
time (what has come due). The engine asks this view for its next contacts instead of folding the
whole list in memory, so its start reads only campaigns and agents, and a list of 1,000,000
contacts costs an index range read, not a scan.

The fold of one contact is the domain's ``queue.Entry``: the in-memory ``LiveQueue`` and this view
agree by construction, and a test compares them on simulated histories. The aggregates stay the
authority: the engine loads each contact it is given and asks it to queue or dial, so a view that
lags (another writer, a rebuild that has not switched yet) costs a skipped contact, never a
second dial.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters.persistence.eventstore import RecorderEventStore
from adapters.views.base import GenerationalView, PositionMoved, PostgresDialect, SQLiteDialect, ViewProjection, catch_up
from dialer_domain.model.events import ContactImported
from dialer_domain.model.values import ContactState
from dialer_domain.rules.ordering import ASSIGNABLE_STATES, IN_CALL_STATES, QUEUE_EVENTS, UNPROCESSED_STATES, Entry
from dialer_domain.service_layer.ports import RecordedEvent

QUEUE_PROJECTION = "queue"
QUEUE_TOPICS: tuple[str, ...] = tuple(cls.NAME for cls in QUEUE_EVENTS)
ENTRY_CACHE = 200_000  # entries a catch-up keeps in memory between pages
#: How many due contacts the due-time index may return before the order index serves instead.
DUE_SCAN_LIMIT = 20_000

LANE_NONE, LANE_LIST, LANE_QUEUED = 0, 1, 2

_COLS = (
    "gen",
    "contact_id",
    "campaign_id",
    "state",
    "before_queue",
    "agent",
    "priority",
    "created_at",
    "attempts",
    "callback_at",
    "next_dial_at",
    "lane",
    "due_at",
    "k0",
    "k1",
    "k2",
    "k3",
    "seq",
)
_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS {p}dialer_queue (gen INTEGER NOT NULL, contact_id TEXT NOT NULL, campaign_id TEXT NOT NULL, "
    "state TEXT NOT NULL, before_queue TEXT NOT NULL, agent TEXT, priority INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
    "attempts INTEGER NOT NULL, callback_at DOUBLE PRECISION, next_dial_at DOUBLE PRECISION, lane INTEGER NOT NULL, "
    "due_at DOUBLE PRECISION, k0 DOUBLE PRECISION NOT NULL, k1 DOUBLE PRECISION NOT NULL, k2 DOUBLE PRECISION NOT NULL, "
    "k3 DOUBLE PRECISION NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (gen, contact_id))",
    "CREATE INDEX IF NOT EXISTS dialer_queue_order ON {p}dialer_queue (gen, campaign_id, lane, k0, k1, k2, k3, seq)",
    "CREATE INDEX IF NOT EXISTS dialer_queue_due ON {p}dialer_queue (gen, campaign_id, lane, due_at)",
)


def _ts(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _at(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def entry_row(gen: int, e: Entry, seq: int) -> tuple[Any, ...]:
    """The row of one entry: its lane (list, queued or neither), due time and R11 key as columns."""
    due = e.due_at() if e.state is not ContactState.QUEUED else None
    lane = LANE_QUEUED if e.state is ContactState.QUEUED else LANE_LIST if due is not None else LANE_NONE
    key = e.key()
    k = (*key, 0.0) if len(key) == 3 else key
    return (
        gen,
        str(e.contact_id),
        str(e.campaign_id),
        e.state.value,
        e.state_before_queue.value,
        e.assigned_agent,
        e.priority,
        e.created_at.timestamp(),
        e.attempts,
        _ts(e.callback_at),
        _ts(e.next_dial_at),
        lane,
        _ts(due),
        *k,
        seq,
    )


def _entry(row: Any) -> tuple[Entry, int]:
    e = Entry(UUID(row["contact_id"]), UUID(row["campaign_id"]), datetime.fromtimestamp(row["created_at"], UTC), int(row["priority"]), row["agent"])
    e.state = ContactState(row["state"])
    e.state_before_queue = ContactState(row["before_queue"])
    e.attempts = int(row["attempts"])
    e.callback_at = _at(row["callback_at"])
    e.next_dial_at = _at(row["next_dial_at"])
    return e, int(row["seq"])


class QueueViewMixin(GenerationalView):
    """The queue view's SQL, shared by the SQLite and PostgreSQL views."""

    projection = QUEUE_PROJECTION
    tables = ("dialer_queue",)
    schema = _SCHEMA

    def _hint(self, index: str) -> str:
        return ""

    def load_entries(self, gen: int, contact_ids: Iterable[UUID]) -> dict[UUID, tuple[Entry, int]]:
        ids = [str(c) for c in contact_ids]
        out: dict[UUID, tuple[Entry, int]] = {}
        with self.datastore.transaction(commit=False) as curs:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join(["%s"] * len(chunk))
                curs.execute(self._sql(f"SELECT * FROM {{p}}dialer_queue WHERE gen = %s AND contact_id IN ({marks})"), (gen, *chunk))
                for row in curs.fetchall():
                    e, seq = _entry(row)
                    out[e.contact_id] = (e, seq)
        return out

    def commit_entries(self, gen: int, start: int, rows: Sequence[tuple[Any, ...]], position: int) -> None:
        """The page's changed rows and its tracking position, in one transaction."""
        with self.datastore.transaction(commit=True) as curs:
            self._advance(curs, gen, start, position)
            update = ", ".join(f"{c} = excluded.{c}" for c in _COLS[2:])
            self._upsert(curs, "dialer_queue", _COLS, "gen, contact_id", update, rows)

    # ------------------------------------------------------------------ the engine's questions

    def due(self, gen: int, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """Up to ``limit`` list contacts due by ``now`` in R11 order. Few due: read them by the
        due-time index and sort; many: walk the order index, skipping those not due yet."""
        if limit <= 0:
            return []
        where = "gen = %s AND campaign_id = %s AND lane = %s AND due_at <= %s" + (" AND agent IS NOT NULL" if agent_owned else "")
        params = (gen, str(campaign_id), LANE_LIST, now.timestamp())
        with self.datastore.transaction(commit=False) as curs:
            counted = f"SELECT 1 FROM {{p}}dialer_queue {self._hint('dialer_queue_due')} WHERE {where} LIMIT %s"
            curs.execute(self._sql(f"SELECT count(*) AS n FROM ({counted}) AS d"), (*params, DUE_SCAN_LIMIT))
            few = int(curs.fetchone()["n"]) < DUE_SCAN_LIMIT
            index = "dialer_queue_due" if few else "dialer_queue_order"
            curs.execute(
                self._sql(f"SELECT contact_id FROM {{p}}dialer_queue {self._hint(index)} WHERE {where} ORDER BY k0, k1, k2, k3, seq LIMIT %s"),
                (*params, limit),
            )
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def first_queued(self, gen: int, campaign_id: UUID, agent_id: str | None, limit: int) -> list[UUID]:
        where = "gen = %s AND campaign_id = %s AND lane = %s" + (" AND agent = %s" if agent_id is not None else "")
        params: tuple[Any, ...] = (gen, str(campaign_id), LANE_QUEUED) + ((agent_id,) if agent_id is not None else ())
        ordered = f"SELECT contact_id FROM {{p}}dialer_queue {self._hint('dialer_queue_order')} WHERE {where} ORDER BY k0, k1, k2, k3, seq LIMIT %s"
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(ordered), (*params, limit))
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def queued_ids(self, gen: int, campaign_id: UUID) -> list[UUID]:
        return self.first_queued(gen, campaign_id, None, 10**9)

    def callbacks(self, gen: int, campaign_id: UUID, now: datetime) -> tuple[int, datetime | None]:
        """R12: the campaign's callbacks in the list due by ``now``, and the next appointment after it."""
        where = "gen = %s AND campaign_id = %s AND lane = %s AND state = %s"
        params = (gen, str(campaign_id), LANE_LIST, ContactState.CALLBACK_SCHEDULED.value, now.timestamp())
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(f"SELECT count(*) AS n FROM {{p}}dialer_queue WHERE {where} AND due_at <= %s"), params)
            due = int(curs.fetchone()["n"])
            curs.execute(self._sql(f"SELECT min(due_at) AS t FROM {{p}}dialer_queue WHERE {where} AND due_at > %s"), params)
            later = curs.fetchone()["t"]
        return due, _at(later)

    def count_queued(self, gen: int, campaign_id: UUID) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self._sql("SELECT count(*) AS n FROM {p}dialer_queue WHERE gen = %s AND campaign_id = %s AND lane = %s"),
                (gen, str(campaign_id), LANE_QUEUED),
            )
            return int(curs.fetchone()["n"])

    def held_by(self, gen: int, campaign_id: UUID, agent_id: str) -> int:
        """R13: the contacts assigned to the agent that are not processed yet."""
        live = tuple(s.value for s in UNPROCESSED_STATES)
        marks = ", ".join(["%s"] * len(live))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self._sql(f"SELECT count(*) AS n FROM {{p}}dialer_queue WHERE gen = %s AND campaign_id = %s AND agent = %s AND state IN ({marks})"),
                (gen, str(campaign_id), agent_id, *live),
            )
            return int(curs.fetchone()["n"])

    def in_progress(self, gen: int) -> list[UUID]:
        """Contacts offered, dialling or connected."""
        marks = ", ".join(["%s"] * len(IN_CALL_STATES))
        with self.datastore.transaction(commit=False) as curs:
            sql = f"SELECT contact_id FROM {{p}}dialer_queue WHERE gen = %s AND state IN ({marks})"
            curs.execute(self._sql(sql), (gen, *(s.value for s in IN_CALL_STATES)))
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def unassigned(self, gen: int, campaign_id: UUID, limit: int | None = None) -> list[UUID]:
        """R13: the campaign's unassigned new and pending contacts, in R11 order."""
        sql = (
            "SELECT contact_id FROM {p}dialer_queue WHERE gen = %s AND campaign_id = %s AND agent IS NULL AND state IN (%s, %s) "
            "ORDER BY k0, k1, k2, k3, seq"
        )
        params: tuple[Any, ...] = (gen, str(campaign_id), *(s.value for s in ASSIGNABLE_STATES))
        if limit is not None:
            sql, params = sql + " LIMIT %s", (*params, limit)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(sql), params)
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def entries(self, gen: int | None = None, campaign_id: UUID | None = None) -> dict[UUID, tuple[Entry, int]]:
        """Every entry of the generation (of one campaign): for tests and inspection."""
        gen = self.live_generation() if gen is None else gen
        where, params = ("gen = %s", (gen,)) if campaign_id is None else ("gen = %s AND campaign_id = %s", (gen, str(campaign_id)))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(f"SELECT * FROM {{p}}dialer_queue WHERE {where}"), params)
            return {e.contact_id: (e, seq) for e, seq in map(_entry, curs.fetchall())}


class SQLiteQueueView(SQLiteDialect, QueueViewMixin, SQLiteTrackingRecorder):
    def _hint(self, index: str) -> str:
        return f"INDEXED BY {index}"


class PostgresQueueView(PostgresDialect, QueueViewMixin, PostgresTrackingRecorder):
    pass


class QueueProjection(ViewProjection):
    name = QUEUE_PROJECTION
    topics = QUEUE_TOPICS

    def begin(self, gen: int) -> dict[UUID, tuple[Entry, int]]:
        return {}

    def process_batch(self, gen: int, start: int, batch: Sequence[RecordedEvent], carry: Any) -> None:
        """Fold a page into the entries it touches (loaded unless carried from the previous page)
        and commit the changed rows with the tracking position."""
        if not batch:
            return
        known: dict[UUID, tuple[Entry, int]] = carry
        if len(known) > ENTRY_CACHE:
            known.clear()
        missing = {r.event.originator_id for r in batch if not isinstance(r.event, ContactImported) and r.event.originator_id not in known}
        if missing:
            known.update(self.view.load_entries(gen, missing))
        changed: dict[UUID, tuple[Entry, int]] = {}
        for rec in batch:
            ev = rec.event
            if isinstance(ev, ContactImported):
                changed[ev.originator_id] = (Entry.imported(ev), rec.position)
                continue
            found = changed.get(ev.originator_id) or known.get(ev.originator_id)
            if found is not None and found[0].apply(ev):
                changed[ev.originator_id] = (found[0], rec.position)
        try:
            self.view.commit_entries(gen, start, [entry_row(gen, e, seq) for e, seq in changed.values()], batch[-1].position)
        except Exception:
            known.clear()  # the entries ran ahead of what is stored
            raise
        known.update(changed)


QueueViewMixin.projection_class = QueueProjection  # type: ignore[attr-defined]


class PersistedQueue:
    """The engine's ``QueueView`` port on the persisted view. Before it answers, it brings the live
    generation up to what the engine has seen: the events the engine hands it (its own commits and
    what it read) are folded directly, one transaction per engine commit, with the entries kept in
    memory between commits; after a gap (on start, or when another writer moved the view) it
    catches up from the log, reading only queue events. It looks for a rebuilt generation each time
    it folds, and at least every ``generation_check_seconds`` when it only answers."""

    replays_log = False

    def __init__(self, store: RecorderEventStore, view: QueueViewMixin, batch_size: int = 5000, generation_check_seconds: float = 2.0) -> None:
        self.store = store
        self.view = view
        self.batch_size = batch_size
        self.generation_check_seconds = generation_check_seconds
        self._projection = QueueProjection(view)
        self._gen = 0
        self._gen_checked = -1e18
        self._tracked: int | None = None  # the generation's tracking position, None: read it from the view
        self._seen = 0  # every queue event up to here is in ``_pending`` or folded
        self._pending: list[RecordedEvent] = []
        self._carry: dict[UUID, tuple[Entry, int]] = {}
        # answers that hold until the view next changes
        self._counts: dict[UUID, int] = {}
        self._windows: dict[tuple[UUID, str | None], tuple[list[UUID], bool]] = {}

    def observe(self, batch: Sequence[RecordedEvent]) -> None:
        if not batch or self._tracked is None:
            return
        fresh = [r for r in batch if r.position > self._seen]
        if not fresh:
            return
        if fresh[0].position != self._seen + 1:
            self._tracked = None  # a gap: catch up from the log next time
            return
        self._pending.extend(r for r in fresh if isinstance(r.event, QUEUE_EVENTS))
        self._seen = fresh[-1].position

    def refresh(self) -> int:
        """Bring the live generation up to what the engine has seen; returns how many events were folded."""
        self._gen_checked = time.monotonic()
        gen = self.view.live_generation()
        if gen != self._gen:  # a rebuild switched generations: catch the new one up
            self._gen, self._tracked = gen, None
        done = 0
        for _ in range(3):
            try:
                if self._tracked is None:
                    self._pending.clear()
                    self._carry.clear()
                    head = self.store.max_position()
                    done += catch_up(self.store, self.view, self._gen, self.batch_size, prefetch=False)
                    self._seen = head
                    self._tracked = self.view.gen_position(self._gen)
                pending = [r for r in self._pending if r.position > self._tracked]
                if pending:
                    self._projection.process_batch(self._gen, self._tracked, pending, self._carry)
                    self._tracked = pending[-1].position
                    done += len(pending)
                self._pending.clear()
                break
            except PositionMoved:  # another writer (a follower) moved the view: catch up from where it is
                self._tracked = None
        self._counts.clear()
        self._windows.clear()
        return done

    def generation(self) -> int:
        """The live generation, brought up to what the engine has seen (for readers besides the engine)."""
        return self._fresh()

    def _fresh(self) -> int:
        if self._tracked is None or self._pending or time.monotonic() - self._gen_checked >= self.generation_check_seconds:
            self.refresh()
        return self._gen

    def take_due(self, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        return self.view.due(self._fresh(), campaign_id, now, limit, agent_owned)

    def next_queued(self, campaign_id: UUID, agent_id: str | None = None, exclude: frozenset[UUID] = frozenset()) -> UUID | None:
        gen = self._fresh()
        want = len(exclude) + 1
        window = self._windows.get((campaign_id, agent_id))
        if window is None or (len(window[0]) < want and not window[1]):
            size = max(64, 2 * want)
            ids = self.view.first_queued(gen, campaign_id, agent_id, size)
            window = self._windows[(campaign_id, agent_id)] = (ids, len(ids) < size)
        for cid in window[0]:
            if cid not in exclude:
                return cid
        return None

    def queued(self, campaign_id: UUID) -> list[UUID]:
        return self.view.queued_ids(self._fresh(), campaign_id)

    def callbacks(self, campaign_id: UUID, now: datetime) -> tuple[int, datetime | None]:
        return self.view.callbacks(self._fresh(), campaign_id, now)

    def in_progress(self) -> list[UUID]:
        return self.view.in_progress(self.generation())

    def held_by(self, campaign_id: UUID, agent_id: str) -> int:
        return self.view.held_by(self.generation(), campaign_id, agent_id)

    def unassigned(self, campaign_id: UUID, limit: int | None = None) -> list[UUID]:
        return self.view.unassigned(self.generation(), campaign_id, limit)

    def queued_count(self, campaign_id: UUID) -> int:
        gen = self._fresh()
        n = self._counts.get(campaign_id)
        if n is None:
            n = self._counts[campaign_id] = self.view.count_queued(gen, campaign_id)
        return n
