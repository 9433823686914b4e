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

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import attrs
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters.views.base import GenerationalView, Upsert, ViewProjection
from adapters.views.dialects import PostgresDialect, SQLiteDialect
from dialer_domain.model.events import CampaignSelectionChanged, ContactImported
from dialer_domain.model.values import ContactData, ContactState, ListSelection
from dialer_domain.rules.ordering import ASSIGNABLE_STATES, IN_CALL_STATES, QUEUE_EVENTS, UNPROCESSED_STATES, Entry
from dialer_domain.rules.selection import Compiled, compiled
from dialer_domain.service_layer.ports import RecordedEvent

QUEUE_PROJECTION = "queue"
QUEUE_TOPICS: tuple[str, ...] = tuple(cls.NAME for cls in QUEUE_EVENTS)
ENTRY_CACHE = 200_000  # entries a catch-up keeps in memory between pages
#: How many due contacts the due-time index may return before the order index serves instead.
DUE_SCAN_LIMIT = 20_000
#: How many rows of the list's head in R11 order ``due_entries`` reads first, per contact asked for (0: none).
DUE_HEAD = 4
_ORDER = "ORDER BY k0, sk, k1, k2, k3, seq"

LANE_NONE, LANE_LIST, LANE_QUEUED, LANE_FILTERED = 0, 1, 2, 3  # filtered: in the list, left out by the active filter (R10)
#: The view's own name for its generations: "queue2" since its rows carry what a filter reads (issue 17),
#: so that a store with the first queue view rebuilds it from the log once (its old table is left unused).
QUEUE_VIEW_NAME = "queue2"

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
    "sk",
    "k1",
    "k2",
    "k3",
    "seq",
    "ckey",
    "data",
)
#: Each column's type, as ``_SCHEMA`` declares it (a one-statement page casts its VALUES to them, ADR 0033).
_TYPES = {
    **dict.fromkeys(("gen", "priority", "attempts", "lane"), "integer"),
    **dict.fromkeys(("contact_id", "campaign_id", "state", "before_queue", "agent", "sk", "ckey", "data"), "text"),
    **dict.fromkeys(("created_at", "callback_at", "next_dial_at", "due_at", "k0", "k1", "k2", "k3"), "double precision"),
    "seq": "bigint",
}
#: How a page writes the entries' rows.
_ENTRIES = Upsert("dialer_queue2", _COLS, "gen, contact_id", ", ".join(f"{c} = excluded.{c}" for c in _COLS[2:]), tuple(_TYPES[c] for c in _COLS))
_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS {p}dialer_queue2 (gen INTEGER NOT NULL, contact_id TEXT NOT NULL, campaign_id TEXT NOT NULL, "
    "state TEXT NOT NULL, before_queue TEXT NOT NULL, agent TEXT, priority INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
    "attempts INTEGER NOT NULL, callback_at DOUBLE PRECISION, next_dial_at DOUBLE PRECISION, lane INTEGER NOT NULL, "
    "due_at DOUBLE PRECISION, k0 DOUBLE PRECISION NOT NULL, k1 DOUBLE PRECISION NOT NULL, k2 DOUBLE PRECISION NOT NULL, "
    "k3 DOUBLE PRECISION NOT NULL, seq BIGINT NOT NULL, sk TEXT NOT NULL, ckey TEXT NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (gen, contact_id))",
    "CREATE INDEX IF NOT EXISTS dialer_queue2_order ON {p}dialer_queue2 (gen, campaign_id, lane, k0, sk, k1, k2, k3, seq)",
    "CREATE TABLE IF NOT EXISTS {p}dialer_queue2_selection (gen INTEGER NOT NULL, campaign_id TEXT NOT NULL, selection TEXT NOT NULL, "
    "PRIMARY KEY (gen, campaign_id))",
    "CREATE INDEX IF NOT EXISTS dialer_queue2_due ON {p}dialer_queue2 (gen, campaign_id, lane, due_at)",
    # a campaign's callback appointments, asked at every queue run: the few callbacks, not the list's
    # million new contacts that share their lane (a partial index: its predicate is in the query as a literal)
    "CREATE INDEX IF NOT EXISTS dialer_queue2_callbacks ON {p}dialer_queue2 (gen, campaign_id, due_at) WHERE state = 'callback_scheduled'",
)


def _ts(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def _at(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def entry_row(gen: int, e: Entry, seq: int) -> tuple[Any, ...]:
    """The row of one entry: its lane (list, queued or neither), due time and R11 key as columns."""
    due = e.due_at() if e.state is not ContactState.QUEUED else None
    listed = LANE_LIST if due is not None else LANE_FILTERED if e.filtered_out() else LANE_NONE
    lane = LANE_QUEUED if e.state is ContactState.QUEUED else listed
    k0, sk, k1, k2, k3 = e.key()
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
        k0,
        sk,
        k1,
        k2,
        k3,
        seq,
        e.contact_key,
        json.dumps({"name": e.data.name, "tz": e.data.time_zone, "f": dict(e.data.fields), "v": dict(e.data.variables), "n": e.numbers}),
    )


def _entry(row: Any) -> tuple[Entry, int]:
    d = json.loads(row["data"])
    data = ContactData(name=d["name"], time_zone=d["tz"], fields=d["f"], variables=d["v"])
    created = datetime.fromtimestamp(row["created_at"], UTC)
    e = Entry(UUID(row["contact_id"]), UUID(row["campaign_id"]), created, int(row["priority"]), row["agent"], row["ckey"], data, int(d["n"]))
    e.state = ContactState(row["state"])
    e.state_before_queue = ContactState(row["before_queue"])
    e.attempts = int(row["attempts"])
    e.callback_at = _at(row["callback_at"])
    e.next_dial_at = _at(row["next_dial_at"])
    return e, int(row["seq"])


class QueueViewMixin(GenerationalView):
    """The queue view's SQL, shared by the SQLite and PostgreSQL views."""

    projection = QUEUE_VIEW_NAME
    tables = ("dialer_queue2", "dialer_queue2_selection")
    schema = _SCHEMA

    def _hint(self, index: str) -> str:
        return ""

    def load_entries(self, gen: int, contact_ids: Iterable[UUID]) -> dict[UUID, tuple[Entry, int]]:
        ids = [str(c) for c in contact_ids]
        out: dict[UUID, tuple[Entry, int]] = {}
        with self._reading() as curs:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ", ".join(["%s"] * len(chunk))
                curs.execute(self._sql(f"SELECT * FROM {{p}}dialer_queue2 WHERE gen = %s AND contact_id IN ({marks})"), (gen, *chunk))
                for row in curs.fetchall():
                    e, seq = _entry(row)
                    out[e.contact_id] = (e, seq)
        return out

    def load_selections(self, gen: int) -> dict[UUID, Compiled]:
        """The list selection (R10) of every campaign that has one, as of the generation's position."""
        with self._reading() as curs:
            curs.execute(self._sql("SELECT campaign_id, selection FROM {p}dialer_queue2_selection WHERE gen = %s"), (gen,))
            rows = curs.fetchall()
        out = {}
        for r in rows:
            d = json.loads(r["selection"])
            out[UUID(r["campaign_id"])] = compiled(ListSelection(filters=d["filters"], active=d["active"], sort=tuple(d["sort"])))
        return out

    def commit_entries(
        self,
        gen: int,
        start: int,
        rows: Sequence[tuple[Any, ...]],
        position: int,
        selections: Sequence[tuple[UUID, ListSelection]] = (),
        live_only: bool = False,
    ) -> None:
        """The page's changed rows, the selections it changed and its tracking position, in one
        transaction. ``live_only``: only while ``gen`` is the live generation (else nothing is
        written and ``GenerationSwitched`` says which one is), the check riding in the page's own
        transaction instead of one of its own. A small page without selections is one statement
        where the database can (ADR 0033)."""
        if not selections and self._page_in_one_statement(gen, start, position, live_only, _ENTRIES, rows):
            return
        with self._page(gen, start, position, live_only) as curs:
            if selections:
                sel_rows = [
                    (gen, str(cid), json.dumps({"filters": dict(sel.filters), "active": sel.active, "sort": list(sel.sort)}))
                    for cid, sel in selections
                ]
                cols = ("gen", "campaign_id", "selection")
                self._upsert(curs, "dialer_queue2_selection", cols, "gen, campaign_id", "selection = excluded.selection", sel_rows)
            self._upsert(curs, _ENTRIES.table, _ENTRIES.cols, _ENTRIES.conflict, _ENTRIES.update, rows)

    # ------------------------------------------------------------------ the engine's questions

    def due(self, gen: int, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """Up to ``limit`` list contacts due by ``now`` in R11 order."""
        return [e.contact_id for e, _ in self.due_entries(gen, campaign_id, now, limit, agent_owned)]

    def due_entries(self, gen: int, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[tuple[Entry, int]]:
        """The entries (and tie-breaks) of ``due``'s contacts, in its order: the due ones of the
        list's head in that order (``DUE_HEAD`` rows a contact asked for) if enough, or if it is
        the whole list; else, few due: read by the due-time index and sorted; many: the order index
        walked, skipping those not due yet."""
        if limit <= 0:
            return []
        lane = "gen = %s AND campaign_id = %s AND lane = %s" + (" AND agent IS NOT NULL" if agent_owned else "")
        where = lane + " AND due_at <= %s"
        params = (gen, str(campaign_id), LANE_LIST, now.timestamp())
        with self._reading() as curs:
            if head := DUE_HEAD * limit:  # as a rule, most of a list is due
                first = f"SELECT * FROM {{p}}dialer_queue2 {self._hint('dialer_queue2_order')} WHERE {lane} {_ORDER} LIMIT %s"
                curs.execute(self._sql(f"SELECT * FROM ({first}) AS h WHERE due_at <= %s {_ORDER} LIMIT %s"), (*params[:3], head, params[3], limit))
                found, whole = curs.fetchall(), False
                if len(found) < limit:  # too few due in the head: the answer only if the head is the whole list
                    curs.execute(self._sql(f"SELECT count(*) AS n FROM ({first}) AS h"), (*params[:3], head))
                    whole = int(curs.fetchone()["n"]) < head
                if len(found) == limit or whole:
                    return [_entry(r) for r in found]
            counted = f"SELECT 1 FROM {{p}}dialer_queue2 {self._hint('dialer_queue2_due')} WHERE {where} LIMIT %s"
            curs.execute(self._sql(f"SELECT count(*) AS n FROM ({counted}) AS d"), (*params, DUE_SCAN_LIMIT))
            few = int(curs.fetchone()["n"]) < DUE_SCAN_LIMIT
            index = "dialer_queue2_due" if few else "dialer_queue2_order"
            curs.execute(self._sql(f"SELECT * FROM {{p}}dialer_queue2 {self._hint(index)} WHERE {where} {_ORDER} LIMIT %s"), (*params, limit))
            return [_entry(r) for r in curs.fetchall()]

    def first_queued(self, gen: int, campaign_id: UUID, agent_id: str | None, limit: int) -> list[UUID]:
        where = "gen = %s AND campaign_id = %s AND lane = %s" + (" AND agent = %s" if agent_id is not None else "")
        params: tuple[Any, ...] = (gen, str(campaign_id), LANE_QUEUED) + ((agent_id,) if agent_id is not None else ())
        hint = self._hint("dialer_queue2_order")
        ordered = f"SELECT contact_id FROM {{p}}dialer_queue2 {hint} WHERE {where} {_ORDER} LIMIT %s"
        with self._reading() as curs:
            curs.execute(self._sql(ordered), (*params, limit))
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def queued_ids(self, gen: int, campaign_id: UUID) -> list[UUID]:
        return self.first_queued(gen, campaign_id, None, 10**9)

    def callback_times(self, gen: int, campaign_id: UUID) -> list[float]:
        """R12: the appointments (epoch seconds, earliest first) of the campaign's callbacks in the list."""
        assert ContactState.CALLBACK_SCHEDULED.value == "callback_scheduled"  # the partial index's predicate
        sql = (
            f"SELECT due_at FROM {{p}}dialer_queue2 {self._hint('dialer_queue2_callbacks')} "
            "WHERE gen = %s AND campaign_id = %s AND state = 'callback_scheduled' AND lane = %s ORDER BY due_at"
        )
        with self._reading() as curs:
            curs.execute(self._sql(sql), (gen, str(campaign_id), LANE_LIST))
            return [float(r["due_at"]) for r in curs.fetchall()]

    def listed(self, gen: int, campaign_id: UUID) -> tuple[int, int]:
        """R10: the campaign's new and pending contacts its filter selects, and those it leaves out."""
        listing = tuple(s.value for s in (ContactState.NEW, ContactState.PENDING))
        sql = "SELECT lane, count(*) AS n FROM {p}dialer_queue2 WHERE gen = %s AND campaign_id = %s AND state IN (%s, %s) GROUP BY lane"
        with self._reading() as curs:
            curs.execute(self._sql(sql), (gen, str(campaign_id), *listing))
            by_lane = {int(r["lane"]): int(r["n"]) for r in curs.fetchall()}
        left_out = by_lane.pop(LANE_FILTERED, 0)
        return sum(by_lane.values()), left_out

    def count_queued(self, gen: int, campaign_id: UUID) -> int:
        with self._reading() as curs:
            curs.execute(
                self._sql("SELECT count(*) AS n FROM {p}dialer_queue2 WHERE gen = %s AND campaign_id = %s AND lane = %s"),
                (gen, str(campaign_id), LANE_QUEUED),
            )
            return int(curs.fetchone()["n"])

    def held_by(self, gen: int, campaign_id: UUID, agent_id: str) -> int:
        """R13: the contacts assigned to the agent that are not processed yet."""
        live = tuple(s.value for s in UNPROCESSED_STATES)
        marks = ", ".join(["%s"] * len(live))
        with self._reading() as curs:
            curs.execute(
                self._sql(f"SELECT count(*) AS n FROM {{p}}dialer_queue2 WHERE gen = %s AND campaign_id = %s AND agent = %s AND state IN ({marks})"),
                (gen, str(campaign_id), agent_id, *live),
            )
            return int(curs.fetchone()["n"])

    def in_progress(self, gen: int) -> list[UUID]:
        """Contacts offered, dialling or connected."""
        marks = ", ".join(["%s"] * len(IN_CALL_STATES))
        with self._reading() as curs:
            sql = f"SELECT contact_id FROM {{p}}dialer_queue2 WHERE gen = %s AND state IN ({marks})"
            curs.execute(self._sql(sql), (gen, *(s.value for s in IN_CALL_STATES)))
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def unassigned(self, gen: int, campaign_id: UUID, limit: int | None = None) -> list[UUID]:
        """R13: the campaign's unassigned new and pending contacts, in R11 order."""
        sql = (
            "SELECT contact_id FROM {p}dialer_queue2 WHERE gen = %s AND campaign_id = %s AND agent IS NULL AND state IN (%s, %s) " + _ORDER
        )
        params: tuple[Any, ...] = (gen, str(campaign_id), *(s.value for s in ASSIGNABLE_STATES))
        if limit is not None:
            sql, params = sql + " LIMIT %s", (*params, limit)
        with self._reading() as curs:
            curs.execute(self._sql(sql), params)
            return [UUID(r["contact_id"]) for r in curs.fetchall()]

    def entries(self, gen: int | None = None, campaign_id: UUID | None = None) -> dict[UUID, tuple[Entry, int]]:
        """Every entry of the generation (of one campaign): for tests and inspection."""
        gen = self.live_generation() if gen is None else gen
        where, params = ("gen = %s", (gen,)) if campaign_id is None else ("gen = %s AND campaign_id = %s", (gen, str(campaign_id)))
        with self._reading() as curs:
            curs.execute(self._sql(f"SELECT * FROM {{p}}dialer_queue2 WHERE {where}"), params)
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

    def __init__(self, view: Any) -> None:
        super().__init__(view)
        self._selections: dict[UUID, Compiled] = {}
        self._selections_gen: int | None = None

    def process_batch(self, gen: int, start: int, batch: Sequence[RecordedEvent], carry: Any) -> None:
        self.fold(gen, start, batch, carry)

    def fold(self, gen: int, start: int, batch: Sequence[RecordedEvent], carry: Any, live_only: bool = False) -> Moved:
        """Fold a page into the entries it touches (``apply``) and commit the changed rows with the
        tracking position. ``live_only``: see ``commit_entries``. Returns what ``apply`` does."""
        if not batch:
            return Moved(Counter(), frozenset())
        moved, changed, selections = self.apply(gen, batch, carry)
        try:
            rows = [entry_row(gen, e, seq) for e, seq in changed.values()]
            self.view.commit_entries(gen, start, rows, batch[-1].position, tuple(selections.items()), live_only)
        except Exception:
            carry.clear()  # the entries ran ahead of what is stored
            self._selections_gen = None
            raise
        return moved

    def apply(
        self, gen: int, batch: Sequence[RecordedEvent], carry: Any
    ) -> tuple[Moved, dict[UUID, tuple[Entry, int]], dict[UUID, ListSelection]]:
        """Fold a page into the entries it touches, in memory (loaded unless carried, and carried
        on). A campaign's new list selection (R10) re-keys its entries, read from the view. Returns
        what it moved (``Moved``), the entries it changed and the selections it changed."""
        moved: Counter[UUID] = Counter()
        if self._selections_gen != gen:
            self._selections, self._selections_gen = self.view.load_selections(gen), gen
        known: dict[UUID, tuple[Entry, int]] = carry
        if len(known) > ENTRY_CACHE:
            known.clear()
        contact_ids = {r.event.originator_id for r in batch if not isinstance(r.event, ContactImported | CampaignSelectionChanged)}
        missing = {cid for cid in contact_ids if cid not in known}  # not ``- known.keys()``: that walks every carried entry
        if missing:
            known.update(self.view.load_entries(gen, missing))
        changed: dict[UUID, tuple[Entry, int]] = {}
        was_queued: dict[UUID, bool] = {}  # each changed entry's lane before the page: entries change in place
        was_booked: dict[UUID, datetime | None] = {}  # and its appointment
        selections: dict[UUID, ListSelection] = {}
        for rec in batch:
            ev = rec.event
            if isinstance(ev, CampaignSelectionChanged):
                comp = self._selections[ev.originator_id] = compiled(ev.selection)
                selections[ev.originator_id] = ev.selection
                stored = self.view.entries(gen, ev.originator_id)  # and those of this page, not stored yet
                pending = {cid: found for cid, found in (*known.items(), *changed.items()) if found[0].campaign_id == ev.originator_id}
                for cid, found in {**stored, **pending}.items():
                    was_queued.setdefault(cid, found[0].state is ContactState.QUEUED)
                    was_booked.setdefault(cid, _appointment(found[0]))
                    found[0].selection = comp
                    changed[cid] = found  # its tie-break stays (the live queue restamps in the same order)
                continue
            if isinstance(ev, ContactImported):
                e = Entry.imported(ev)
                e.selection = self._selections.get(ev.campaign_id)
                changed[ev.originator_id] = (e, rec.position)
                was_queued.setdefault(ev.originator_id, False)  # a contact's stream starts with its import
                was_booked.setdefault(ev.originator_id, None)
                continue
            found = changed.get(ev.originator_id) or known.get(ev.originator_id)
            if found is not None:
                was_queued.setdefault(ev.originator_id, found[0].state is ContactState.QUEUED)
                was_booked.setdefault(ev.originator_id, _appointment(found[0]))
                found[0].selection = self._selections.get(found[0].campaign_id)
                if found[0].apply(ev):
                    changed[ev.originator_id] = (found[0], rec.position)
        known.update(changed)
        booked: set[UUID] = set()
        reordered: set[UUID] = set()
        left: set[UUID] = set()
        for cid, (e, _) in changed.items():
            if (now_queued := e.state is ContactState.QUEUED) != was_queued[cid]:
                moved[e.campaign_id] += 1 if now_queued else -1
            if now_queued:
                reordered.add(e.campaign_id)  # queued now: it may stand anywhere in the order
            elif was_queued[cid]:
                left.add(cid)
            if _appointment(e) != was_booked[cid]:
                booked.add(e.campaign_id)
        return Moved(moved, frozenset(booked), frozenset(reordered), frozenset(left)), changed, selections


@attrs.frozen
class Moved:
    """What a fold changed that the engine's port keeps between folds: each campaign's count of
    queued contacts, by how much; the campaigns whose appointments changed; the campaigns with a
    contact changed that is queued after the fold (it entered the queue, or its place may have
    moved); the contacts that left the queue."""

    queued: Counter[UUID]
    callbacks: frozenset[UUID]
    reordered: frozenset[UUID] = frozenset()
    left: frozenset[UUID] = frozenset()


def _appointment(e: Entry) -> datetime | None:
    """The entry's row in ``callback_times``: its due time while a callback waits in the list."""
    return e.due_at() if e.state is ContactState.CALLBACK_SCHEDULED else None


QueueViewMixin.projection_class = QueueProjection  # type: ignore[attr-defined]
