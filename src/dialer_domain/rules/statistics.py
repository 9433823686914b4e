"""Statistics as a fold of the event log (R19): per campaign by day and hour, per agent by day.

The same fold serves the live figures, the simulation report and regeneration: it is a function of
the events alone, so rebuilding from position 0 gives the live figures again. Days are in the
campaign's time zone (UTC when it has no hours); an event counts on the day it happened.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any, ClassVar
from uuid import UUID

import attrs

from dialer_domain.model.events import (
    AgentConnected,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReady,
    CallAbandoned,
    CallbackCancelled,
    CallbackMoved,
    CallbackScheduled,
    CallConnected,
    CallEnded,
    CallOffered,
    CallProgressed,
    CampaignCreated,
    CampaignHoursChanged,
    CampaignRenamed,
    CampaignSettingsChanged,
    ContactImported,
    DialAttempted,
    DispositionRecorded,
    DomainEvent,
    OfferAccepted,
    OfferDeclined,
    WrapUpStarted,
)
from dialer_domain.model.values import AgentState, CallOutcome
from dialer_domain.rules.callbacks import CALLBACK_WINDOW_SECONDS, CallbackKept, callback_deadline, callback_kept
from dialer_domain.rules.figures import AgentFigures, CampaignFigures
from dialer_domain.rules.reads import Reads
from dialer_domain.rules.schedule import zone
from dialer_domain.service_layer.ports import RecordedEvent

OUTCOME_FIELDS = {
    CallOutcome.ANSWERED_HUMAN: "human",
    CallOutcome.ANSWERED_MACHINE: "machine",
    CallOutcome.BUSY: "busy",
    CallOutcome.NO_ANSWER: "no_answer",
    CallOutcome.FAILED: "failed",
    CallOutcome.CANCELLED: "cancelled",
    CallOutcome.REJECTED: "busy",  # a decline is counted with busy
    CallOutcome.INVALID_NUMBER: "failed",  # a number that does not exist is counted with failed
}
#: The ends of calls that were never answered, by the figure that counts them.
UNANSWERED_ENDS = {o: f for o, f in OUTCOME_FIELDS.items() if not o.is_answer}


_SLICE = 900  # 15 minutes: every zone's offset and transitions fall on quarter hours


@lru_cache(maxsize=1 << 16)
def _local_day_hour(tz: str | None, slice_no: int) -> tuple[str, int]:
    """The local day and hour of a quarter-hour of UTC time (constant within it in every zone)."""
    t = datetime.fromtimestamp(slice_no * _SLICE, UTC)
    local = t.astimezone(zone(tz)) if tz else t
    return local.date().isoformat(), local.hour



@attrs.define
class PendingCallback:
    """A scheduled callback not dialled yet: its campaign, when its window closes, and whether the
    fold has already counted it missed."""

    campaign_id: UUID
    deadline: float  # epoch seconds: the appointment plus the campaign's callback window
    missed: bool = False


@attrs.define
class AgentTrack:
    agent_id: str
    state: AgentState = AgentState.LOGGED_OUT
    since: datetime | None = None
    pause_reason: str | None = None
    campaign: UUID | None = None


class StatisticsFold:
    """Apply events in log order; read ``by_campaign_hour`` and ``by_agent_day``.

    ``window`` (start, end) restricts what counts to events and state time inside it (used by the
    benchmark to leave out its warm-up)."""

    #: every event class ``apply`` looks at
    EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = (
        CampaignCreated,
        CampaignHoursChanged,
        CampaignSettingsChanged,
        CampaignRenamed,
        ContactImported,
        DialAttempted,
        CallProgressed,
        CallConnected,
        CallAbandoned,
        CallEnded,
        DispositionRecorded,
        CallbackScheduled,
        CallbackMoved,
        CallbackCancelled,
        AgentLoggedIn,
        AgentReady,
        CallOffered,
        OfferAccepted,
        OfferDeclined,
        AgentConnected,
        WrapUpStarted,
        AgentPaused,
        AgentLoggedOut,
    )
    #: The fields ``apply`` reads of the events that make most of a log, besides every event's
    #: stream, version and time: a rebuild may decode only these (ADR 0037). Other events are read
    #: whole. ``test_the_statistics_fold_reads_only_what_it_declares`` holds it to ``apply``.
    READS: ClassVar[Reads] = MappingProxyType(
        {
            CallProgressed: ("progress",),
            DialAttempted: ("campaign_id",),
            CallEnded: ("outcome", "talk_seconds"),
            ContactImported: ("campaign_id",),
            AgentReady: (),
            CallConnected: (),
            AgentConnected: ("campaign_id",),
            WrapUpStarted: (),
            DispositionRecorded: ("code", "success"),
        }
    )

    def __init__(self, window: tuple[datetime, datetime] | None = None) -> None:
        self.window = window
        self.position = 0
        self.by_campaign_hour: dict[tuple[UUID, str, int], CampaignFigures] = defaultdict(CampaignFigures)
        self.by_agent_day: dict[tuple[str, str], AgentFigures] = defaultdict(AgentFigures)
        self.campaign_names: dict[UUID, str] = {}
        self.campaign_tz: dict[UUID, str] = {}
        self.contact_campaign: dict[UUID, UUID] = {}
        self.campaign_window: dict[UUID, int] = {}
        self.callback_pending: dict[UUID, PendingCallback] = {}
        self._callback_deadlines: list[tuple[float, UUID]] = []  # a heap; entries of replaced callbacks are skipped
        self.agents: dict[UUID, AgentTrack] = {}
        # what changed since the last drain (a persisted projection writes these)
        self.dirty_contacts: set[UUID] = set()
        self.dirty_agents: set[UUID] = set()
        self.dirty_campaigns: set[UUID] = set()

    # -------------------------------------------------------------- helpers

    def _inside(self, at: datetime) -> bool:
        return self.window is None or self.window[0] <= at < self.window[1]

    def _local(self, campaign_id: UUID | None, at: datetime) -> datetime:
        tz = self.campaign_tz.get(campaign_id) if campaign_id else None
        return at.astimezone(zone(tz)) if tz else at

    def _day_hour(self, campaign_id: UUID | None, at: datetime) -> tuple[str, int]:
        tz = self.campaign_tz.get(campaign_id) if campaign_id else None
        return _local_day_hour(tz, int(at.timestamp()) // _SLICE)

    def _cell(self, campaign_id: UUID, at: datetime) -> CampaignFigures:
        day, hour = self._day_hour(campaign_id, at)
        return self.by_campaign_hour[(campaign_id, day, hour)]

    def _agent_day(self, agent_id: str, campaign_id: UUID | None, at: datetime) -> AgentFigures:
        return self.by_agent_day[(agent_id, self._day_hour(campaign_id, at)[0])]

    def _close_interval(self, t: AgentTrack, at: datetime) -> None:
        if t.since is None or t.state is AgentState.LOGGED_OUT:
            return
        start, end = t.since, at
        if self.window is not None:
            start, end = max(start, self.window[0]), min(end, self.window[1])
        if end <= start:
            return
        # split at local midnight so each day gets its own share
        cursor = start
        while cursor < end:
            local = self._local(t.campaign, cursor)
            next_midnight = (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(end.tzinfo)
            stop = min(end, next_midnight)
            seconds = (stop - cursor).total_seconds()
            fig = self._agent_day(t.agent_id, t.campaign, cursor)
            fig.seconds[t.state.value] = fig.seconds.get(t.state.value, 0.0) + seconds
            if t.state is AgentState.PAUSED and t.pause_reason:
                fig.pause_seconds[t.pause_reason] = fig.pause_seconds.get(t.pause_reason, 0.0) + seconds
            if t.state is AgentState.WRAP_UP and t.campaign is not None:
                self._cell(t.campaign, cursor).wrapup_seconds += seconds
            cursor = stop

    def _agent(self, ev: DomainEvent, state: AgentState) -> AgentTrack:
        t = self.agents[ev.originator_id]
        self.dirty_agents.add(ev.originator_id)
        self._close_interval(t, ev.timestamp)
        t.state = state
        t.since = ev.timestamp
        return t

    # -------------------------------------------------------------- fold

    def apply_all(self, records: Iterable[RecordedEvent]) -> None:
        for r in records:
            self.apply(r.event)
            self.position = r.position

    def track_callback(self, contact_id: UUID, callback: PendingCallback) -> None:
        """A pending callback (scheduled by an event, or loaded by a persisted view)."""
        self.callback_pending[contact_id] = callback
        if not callback.missed:
            heapq.heappush(self._callback_deadlines, (callback.deadline, contact_id))

    def _pass_deadlines(self, now: float) -> None:
        """Count as missed every pending callback whose window closed before ``now``."""
        heap = self._callback_deadlines
        while heap and heap[0][0] < now:
            deadline, cid = heapq.heappop(heap)
            cb = self.callback_pending.get(cid)
            if cb is None or cb.missed or cb.deadline != deadline:
                continue  # dialled, or replaced by a later appointment
            cb.missed = True
            self.dirty_contacts.add(cid)
            at = datetime.fromtimestamp(deadline, UTC)
            if self._inside(at):
                self._cell(cb.campaign_id, at).callbacks_missed += 1

    def _dialled_callback(self, ev: DialAttempted) -> None:
        cb = self.callback_pending.pop(ev.originator_id, None)
        if cb is None:
            return
        self.dirty_contacts.add(ev.originator_id)
        if cb.missed:  # counted missed when its window closed: now it is kept, late
            at = datetime.fromtimestamp(cb.deadline, UTC)
            if self._inside(at):
                self._cell(cb.campaign_id, at).callbacks_missed -= 1
        if self._inside(ev.timestamp):
            cell = self._cell(ev.campaign_id, ev.timestamp)
            if cb.missed or callback_kept(datetime.fromtimestamp(cb.deadline, UTC), ev.timestamp) is CallbackKept.LATE:
                cell.callbacks_late += 1
            else:
                cell.callbacks_kept += 1

    def apply(self, ev: DomainEvent) -> None:
        if self._callback_deadlines and self._callback_deadlines[0][0] < (now := ev.timestamp.timestamp()):
            self._pass_deadlines(now)
        # most frequent first: no class here is another's subclass, so the order chooses nothing
        # (``test_the_statistics_folds_cases_are_disjoint``), and an outbound log is mostly calls
        match ev:
            case CallProgressed():
                if ev.progress.is_answer and self._inside(ev.timestamp):
                    c = self.contact_campaign.get(ev.originator_id)
                    if c is not None:
                        cell = self._cell(c, ev.timestamp)
                        setattr(cell, OUTCOME_FIELDS[ev.progress], getattr(cell, OUTCOME_FIELDS[ev.progress]) + 1)
            case DialAttempted():
                if self._inside(ev.timestamp):
                    self._cell(ev.campaign_id, ev.timestamp).dials += 1
                if ev.originator_id in self.callback_pending:
                    self._dialled_callback(ev)
            case CallEnded():
                c = self.contact_campaign.get(ev.originator_id)
                if c is None or not self._inside(ev.timestamp):
                    return
                cell = self._cell(c, ev.timestamp)
                name = UNANSWERED_ENDS.get(ev.outcome)
                if name is not None:
                    setattr(cell, name, getattr(cell, name) + 1)
                cell.talk_seconds += ev.talk_seconds
            case ContactImported():
                self.contact_campaign[ev.originator_id] = ev.campaign_id
                self.dirty_contacts.add(ev.originator_id)
            case AgentReady():
                self._agent(ev, AgentState.READY).pause_reason = None
            case CallConnected():
                c = self.contact_campaign.get(ev.originator_id)
                if c is not None and self._inside(ev.timestamp):
                    self._cell(c, ev.timestamp).connects += 1
            case AgentConnected():
                t = self._agent(ev, AgentState.TALKING)
                t.campaign = ev.campaign_id
                if self._inside(ev.timestamp):
                    fig = self._agent_day(t.agent_id, ev.campaign_id, ev.timestamp)
                    fig.connects += 1
                    key = str(ev.campaign_id)
                    fig.campaign_connects[key] = fig.campaign_connects.get(key, 0) + 1
            case WrapUpStarted():
                self._agent(ev, AgentState.WRAP_UP)
            case DispositionRecorded():
                c = self.contact_campaign.get(ev.originator_id)
                if c is not None and self._inside(ev.timestamp):
                    cell = self._cell(c, ev.timestamp)
                    cell.dispositions[ev.code] = cell.dispositions.get(ev.code, 0) + 1
                    cell.successes += ev.success
            case CampaignCreated():
                self.campaign_names[ev.originator_id] = ev.name
                self.campaign_window[ev.originator_id] = ev.settings.callback_window_seconds
                if ev.hours is not None:
                    self.campaign_tz[ev.originator_id] = ev.hours.time_zone
                self.dirty_campaigns.add(ev.originator_id)
            case CampaignRenamed():
                self.campaign_names[ev.originator_id] = ev.name
                self.dirty_campaigns.add(ev.originator_id)
            case CampaignSettingsChanged():
                self.campaign_window[ev.originator_id] = ev.settings.callback_window_seconds
                self.dirty_campaigns.add(ev.originator_id)
            case CampaignHoursChanged():
                if ev.hours is not None:
                    self.campaign_tz[ev.originator_id] = ev.hours.time_zone
                    self.dirty_campaigns.add(ev.originator_id)
            case CallAbandoned():
                c = self.contact_campaign.get(ev.originator_id)
                if c is not None and self._inside(ev.timestamp):
                    self._cell(c, ev.timestamp).abandons += 1
            case CallbackScheduled() | CallbackMoved():  # a moved callback is the same one, at a new time
                c = self.contact_campaign.get(ev.originator_id)
                if c is None:
                    return
                window = self.campaign_window.get(c, CALLBACK_WINDOW_SECONDS)
                self.track_callback(ev.originator_id, PendingCallback(c, callback_deadline(ev.callback_at, window).timestamp()))
                self.dirty_contacts.add(ev.originator_id)
                if self._inside(ev.timestamp) and isinstance(ev, CallbackScheduled):
                    self._cell(c, ev.timestamp).callbacks_set += 1
            case CallbackCancelled():  # called off: neither kept nor missed
                if self.callback_pending.pop(ev.originator_id, None) is not None:
                    self.dirty_contacts.add(ev.originator_id)
            case AgentLoggedIn():
                self.agents[ev.originator_id] = AgentTrack(ev.agent_id)
                t = self._agent(ev, AgentState.PAUSED)
                t.pause_reason = "not_ready"
            case CallOffered():
                self._agent(ev, AgentState.OFFERED).campaign = ev.campaign_id
            case OfferAccepted():
                self._agent(ev, AgentState.RESERVED)
            case OfferDeclined():
                self._agent(ev, AgentState.READY)
            case AgentPaused():
                self._agent(ev, AgentState.PAUSED).pause_reason = ev.reason_code
            case AgentLoggedOut():
                self._agent(ev, AgentState.LOGGED_OUT)
            case _:
                pass

    def drain(self) -> None:
        """Forget the figures and changes already written (a persisted view calls this after each
        commit); the state carried between events stays."""
        self.by_campaign_hour.clear()
        self.by_agent_day.clear()
        self.dirty_contacts.clear()
        self.dirty_agents.clear()
        self.dirty_campaigns.clear()

    def close(self, at: datetime) -> None:
        """Count the open state intervals up to ``at`` (for a report taken mid-day)."""
        for t in self.agents.values():
            self._close_interval(t, at)
            t.since = at

    # -------------------------------------------------------------- reading

    def campaign_day(self, campaign_id: UUID | None = None, day: str | None = None) -> CampaignFigures:
        total = CampaignFigures()
        for (c, d, _), fig in self.by_campaign_hour.items():
            if (campaign_id is None or c == campaign_id) and (day is None or d == day):
                total.add(fig)
        return total

    def agents_total(self, agent_ids: Iterable[str] | None = None) -> AgentFigures:
        wanted = set(agent_ids) if agent_ids is not None else None
        total = AgentFigures()
        for (agent, _), fig in self.by_agent_day.items():
            if wanted is not None and agent not in wanted:
                continue
            for k, v in fig.seconds.items():
                total.seconds[k] = total.seconds.get(k, 0.0) + v
            total.connects += fig.connects
        return total

    def summary(self, campaign_id: UUID | None = None, agent_ids: Iterable[str] | None = None) -> dict[str, Any]:
        c = self.campaign_day(campaign_id)
        a = self.agents_total(agent_ids)
        hours = a.logged_in_seconds / 3600
        # waiting for a call: ready, or holding an offer / a reserved call that is still ringing
        ready = sum(a.seconds.get(k, 0.0) for k in ("ready", "offered", "reserved"))
        return {
            "dials": c.dials,
            "human_answers": c.human,
            "machine_answers": c.machine,
            "busy": c.busy,
            "no_answer": c.no_answer,
            "failed": c.failed,
            "cancelled": c.cancelled,
            "connects": c.connects,
            "abandons": c.abandons,
            "abandon_rate": c.abandon_rate,
            "occupancy": a.occupancy,
            "talk_minutes_per_agent_hour": (a.talk_seconds / 60) / hours if hours else 0.0,
            "mean_wait_between_calls_s": ready / a.connects if a.connects else 0.0,
            "agent_hours": hours,
            "callbacks_set": c.callbacks_set,
            "callbacks_kept": c.callbacks_kept,
            "callbacks_late": c.callbacks_late,
            "callbacks_missed": c.callbacks_missed,
            "dispositions": dict(sorted(c.dispositions.items())),
        }
