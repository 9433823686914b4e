"""The statistics view, persisted (R19): the fold is ``dialer_domain.rules.statistics.StatisticsFold``; this
module loads the little state the fold needs between pages (contacts' campaigns and pending
callbacks, agents' current states, campaigns' time zones and callback windows) and stores what a
page changed, as additive counter rows. The machinery it runs on (generations, catch-up, rebuild,
follow) is ``adapters.views.base``, re-exported here for the statistics' callers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder

from adapters.views.base import (
    APP_NAME,
    GenerationalView,
    PositionMoved,
    ViewProjection,
    catch_up,
    follow,
    open_view,
    rebuild,
)
from adapters.views.dialects import PostgresDialect, SQLiteDialect
from dialer_domain.model.events import ALL_EVENTS, CONTACT_EVENTS, ContactImported
from dialer_domain.model.values import AgentState
from dialer_domain.rules.figures import AgentFigures, CampaignFigures
from dialer_domain.rules.statistics import AgentTrack, PendingCallback, StatisticsFold
from dialer_domain.service_layer.ports import RecordedEvent

__all__ = ["PositionMoved", "catch_up", "follow", "open_view", "rebuild"]

PROJECTION = "statistics"
CONTACT_CACHE = 500_000  # contacts whose campaign a catch-up keeps in memory between pages
_COUNTER_COLS = ("gen", "kind", "k1", "k2", "k3", "metric", "value")
#: The events the statistics fold reads; the others (queueing, pacing decisions ...) are not read at all.
STATISTICS_TOPICS: tuple[str, ...] = tuple(cls.NAME for cls in StatisticsFold.EVENTS)
#: The events of a contact's stream after its import: the fold needs the contact's campaign. By class
#: (a set lookup; ``isinstance`` on the tuple tried every class in turn), over every event the store decodes.
_NEEDS_CONTACT = frozenset(c for c in ALL_EVENTS if issubclass(c, CONTACT_EVENTS) and not issubclass(c, ContactImported))

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
                    campaign_id = fold.contact_campaign[cid] = UUID(row["campaign_id"])
                    if cid not in fold.callback_pending and (cb := _decode_pending(campaign_id, row["callback_pending"])) is not None:
                        fold.track_callback(cid, cb)

    def _load_campaigns_and_agents(self, gen: int, fold: StatisticsFold, curs: Any) -> None:
        curs.execute(self._sql("SELECT campaign_id, name, tz FROM {p}dialer_stats_campaign WHERE gen = %s"), (gen,))
        for row in curs.fetchall():
            cid = UUID(row["campaign_id"])
            fold.campaign_names[cid] = row["name"]
            if row["tz"]:
                fold.campaign_tz[cid] = row["tz"]
        curs.execute(self._sql("SELECT campaign_id, seconds FROM {p}dialer_stats_callback_window WHERE gen = %s"), (gen,))
        for row in curs.fetchall():
            fold.campaign_window[UUID(row["campaign_id"])] = int(row["seconds"])
        # every pending callback: the fold counts one missed when the log passes its deadline
        curs.execute(
            self._sql("SELECT contact_id, campaign_id, callback_pending FROM {p}dialer_stats_contact WHERE gen = %s AND callback_pending > 0"), (gen,)
        )
        for row in curs.fetchall():
            cid = UUID(row["contact_id"])
            campaign_id = fold.contact_campaign[cid] = UUID(row["campaign_id"])
            cb = _decode_pending(campaign_id, row["callback_pending"])
            if cb is not None:
                fold.track_callback(cid, cb)
        curs.execute(
            self._sql("SELECT session_id, agent_id, state, since, pause_reason, campaign_id FROM {p}dialer_stats_agent WHERE gen = %s"),
            (gen,),
        )
        for row in curs.fetchall():
            fold.agents[UUID(row["session_id"])] = AgentTrack(
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
            (gen, str(c), str(fold.contact_campaign[c]), _encode_pending(fold.callback_pending.get(c)))
            for c in fold.dirty_contacts
            if c in fold.contact_campaign
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
            for sid, t in ((sid, fold.agents[sid]) for sid in fold.dirty_agents if sid in fold.agents)
        ]
        campaigns = [(gen, str(c), fold.campaign_names.get(c, ""), fold.campaign_tz.get(c)) for c in fold.dirty_campaigns]
        with self._page(gen, start, tracking.notification_id) as curs:
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
                [(gen, str(c), fold.campaign_window[c]) for c in fold.dirty_campaigns if c in fold.campaign_window],
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
        with self._reading() as curs:
            curs.execute(
                self._sql(
                    f"SELECT kind, k1, k2, k3, metric, value FROM {{p}}dialer_stats_counter WHERE {' AND '.join(where)} ORDER BY kind, k1, k2, k3, metric"
                ),
                tuple(params),
            )
            return [(r["kind"], r["k1"], r["k2"], int(r["k3"]), r["metric"], float(r["value"])) for r in curs.fetchall()]

    def campaign_names(self, gen: int | None = None) -> dict[str, str]:
        gen = self.live_generation() if gen is None else gen
        with self._reading() as curs:
            curs.execute(self._sql("SELECT campaign_id, name FROM {p}dialer_stats_campaign WHERE gen = %s"), (gen,))
            return {r["campaign_id"]: r["name"] for r in curs.fetchall()}


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
            "successes",
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


class StatisticsProjection(ViewProjection):
    name = PROJECTION
    topics = STATISTICS_TOPICS
    reads = StatisticsFold.READS

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
        known = fold.contact_campaign
        if len(known) > CONTACT_CACHE:
            known.clear()
            # pending callbacks stay: they are few, and a missed one is counted from them
        streams = {r.event.originator_id for r in batch if r.event.__class__ in _NEEDS_CONTACT}
        contacts = [c for c in streams if c not in known]
        if contacts:
            self.view.load_fold(gen, fold, contacts, whole=False)
        fold.apply_all(batch)
        try:
            self.view.commit_fold(gen, fold, start, Tracking(APP_NAME, batch[-1].position))
        finally:
            fold.drain()


StatisticsViewMixin.projection_class = StatisticsProjection  # type: ignore[attr-defined]
