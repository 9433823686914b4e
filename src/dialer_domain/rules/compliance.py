"""The compliance report (issue 16): what a compliance officer files for a campaign and a period,
computed from the events alone, re-checking each dial's recorded evidence independently of the
dialler that wrote it.

For the period it counts the dials, and re-judges each one's callee hours from its recorded
zones and time (a dial outside them is listed, with its evidence). It also counts:
- dials without a caller ID, with a ring time under 15 s, and without do-not-call evidence;
- the numbers skipped for a do-not-call list, the contacts held back (the callee's hours, 72 hours
  after an abandoned call), and the dials each rule refused;
- the abandon rate (abandoned / answered by a person): over the period, and over the rolling 24
  hours (UK practice) and 30 days (US) ending with it, each against the 3% limit;
- the longest wait before an abandoned call got its message.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar
from uuid import UUID

import attrs

from dialer_domain.model.events import (
    CallAbandoned,
    CallProgressed,
    ContactImported,
    ContactReturnedToList,
    DialAttempted,
    DomainEvent,
    NumberSkipped,
)
from dialer_domain.model.values import MIN_RING_SECONDS, CallOutcome
from dialer_domain.rules.calling_hours import POLICIES, HolidayLookup, outside_hours
from dialer_domain.rules.reads import Reads

#: The events the report reads.
EVENTS: tuple[type[DomainEvent], ...] = (ContactImported, DialAttempted, CallProgressed, CallAbandoned, NumberSkipped, ContactReturnedToList)
#: The abandon-rate limit both the US (TCPA safe harbour, 30 days) and UK (Ofcom, 24 hours) use.
ABANDON_LIMIT = 0.03
#: How long an answered person may wait for an agent before the abandoned-call message (R17).
MESSAGE_WITHIN_SECONDS = 2.0
#: How many offending dials the report lists in full.
LISTED = 50


@attrs.define
class _Window:
    answered: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float | None:
        return self.abandoned / self.answered if self.answered else None


class ComplianceFold:
    """Fold the log (``EVENTS``, in order) once; then ``report`` for any campaign and period."""

    EVENTS: ClassVar[tuple[type[DomainEvent], ...]] = EVENTS
    #: The fields ``apply`` reads besides every event's stream, version and time (ADR 0037); the
    #: dials, skipped numbers and contacts held back are kept whole for the report, so read whole.
    #: ``test_a_simulated_days_report_is_the_same_from_events_decoded_only_as_its_folds_declare`` holds it to ``apply``.
    READS: ClassVar[Reads] = MappingProxyType(
        {ContactImported: ("campaign_id",), CallProgressed: ("progress",), CallAbandoned: ("wait_seconds",)}
    )

    def __init__(self) -> None:
        self.campaign_of: dict[UUID, UUID] = {}
        self.dials: list[DialAttempted] = []
        self.answers: list[tuple[UUID, datetime]] = []  # (campaign, when) of each human answer
        self.abandons: list[tuple[UUID, datetime, float]] = []  # (campaign, when, seconds waited)
        self.skipped: list[tuple[UUID, NumberSkipped]] = []
        self.held_back: list[tuple[UUID, ContactReturnedToList]] = []
        self.blocked: list[tuple[UUID, datetime, str]] = []  # (campaign, when, the rule that refused a dial)

    def apply(self, e: DomainEvent) -> None:
        match e:
            case ContactImported():
                self.campaign_of[e.originator_id] = e.campaign_id
            case DialAttempted():
                self.campaign_of[e.originator_id] = e.campaign_id
                self.dials.append(e)
            case CallProgressed() if e.progress is CallOutcome.ANSWERED_HUMAN:
                self._add(self.answers, e.originator_id, (e.timestamp,))
            case CallAbandoned():
                self._add(self.abandons, e.originator_id, (e.timestamp, e.wait_seconds))
            case NumberSkipped():
                self._add(self.skipped, e.originator_id, (e,))
            case ContactReturnedToList():
                if e.not_before is not None:
                    self._add(self.held_back, e.originator_id, (e,))
                for rule in blocking_rules(e.reason):
                    self._add(self.blocked, e.originator_id, (e.timestamp, rule))

    def _add(self, into: list[Any], contact: UUID, rest: tuple[Any, ...]) -> None:
        campaign = self.campaign_of.get(contact)
        if campaign is not None:
            into.append((campaign, *rest))

    def report(self, campaign_id: UUID, start: datetime, end: datetime, holiday: HolidayLookup) -> dict[str, Any]:
        """The report for dials in [start, end), as plain data (JSON-ready)."""
        dials = [d for d in self.dials if d.campaign_id == campaign_id and start <= d.timestamp < end]
        outside: list[dict[str, Any]] = []
        for d in dials:
            policy = POLICIES.get(d.calling_policy)
            if policy is not None and d.callee_zones:
                why = outside_hours(policy, d.callee_zones, d.timestamp, holiday)
                if why is not None:
                    outside.append(_dial_row(d, why))
        unjudged = [d for d in dials if not d.callee_zones]
        no_caller_id = [d for d in dials if not d.caller_id_number]
        short_ring = [d for d in dials if d.max_ring_seconds < MIN_RING_SECONDS]
        lists_seen = sorted({c for d in dials for c in d.dnc_checked})
        waits = [w for c, t, w in self.abandons if c == campaign_id and start <= t < end]
        offending = [*outside, *(_dial_row(d, "no caller ID") for d in no_caller_id), *(_dial_row(d, "ring under 15 s") for d in short_ring)]
        return {
            "period": {"from": start.isoformat(), "to": end.isoformat()},
            "dials": len(dials),
            "dials_by_policy": dict(sorted(Counter(d.calling_policy or "(none recorded)" for d in dials).items())),
            "dials_outside_callee_hours": len(outside),
            "dials_without_callee_evidence": len(unjudged),
            "dials_without_caller_id": len(no_caller_id),
            "dials_ringing_under_15_s": len(short_ring),
            "do_not_call_lists_checked": lists_seen,
            "dials_not_checked_against_do_not_call_lists": sum(1 for d in dials if "not_on_do_not_call" not in d.checks),
            "numbers_skipped_for_do_not_call": sum(1 for c, e in self.skipped if c == campaign_id and start <= e.timestamp < end),
            "contacts_held_back": sum(1 for c, e in self.held_back if c == campaign_id and start <= e.timestamp < end),
            "dials_refused_by_rule": dict(sorted(Counter(rule for c, t, rule in self.blocked if c == campaign_id and start <= t < end).items())),
            "abandon_rate": {
                "period": _rate(self._window(campaign_id, start, end)),
                "rolling_24_hours": _rate(self._window(campaign_id, end - timedelta(hours=24), end)),
                "rolling_30_days": _rate(self._window(campaign_id, end - timedelta(days=30), end)),
                "limit": ABANDON_LIMIT,
            },
            "longest_wait_before_the_abandon_message_s": round(max(waits), 3) if waits else None,
            "abandon_message_within_s": MESSAGE_WITHIN_SECONDS,
            "offending_dials": offending[:LISTED],
        }

    def _window(self, campaign_id: UUID, start: datetime, end: datetime) -> _Window:
        w = _Window()
        w.answered = sum(1 for c, t in self.answers if c == campaign_id and start <= t < end)
        w.abandoned = sum(1 for c, t, _ in self.abandons if c == campaign_id and start <= t < end)
        return w


def blocking_rules(reason: str) -> list[str]:
    """The rules named in a refusal's reason ("rule: why; rule: why", as the authorisation step
    writes it)."""
    from dialer_domain.rules.authorisation import DEFAULT_RULES

    names = {name for name, _ in DEFAULT_RULES}
    return [part.split(":", 1)[0] for part in reason.split("; ") if part.split(":", 1)[0] in names]


def _rate(w: _Window) -> dict[str, Any]:
    rate = w.rate
    return {
        "answered_by_a_person": w.answered,
        "abandoned": w.abandoned,
        "rate": round(rate, 5) if rate is not None else None,
        "within_limit": rate is None or rate <= ABANDON_LIMIT,
    }


def _dial_row(d: DialAttempted, why: str) -> dict[str, Any]:
    return {
        "at": d.timestamp.isoformat(),
        "call_id": str(d.call_id),
        "contact": str(d.originator_id),
        "number": d.number,
        "why": why,
        "policy": d.calling_policy,
        "callee_zones": list(d.callee_zones),
        "callee_local_times": list(d.callee_local_times),
    }


class RecentRefusals:
    """What the dialler refused to dial in the last 24 hours, per campaign: the rules that refused
    and the last reason in words (the live supervisor's view; the record is the log, and
    ``dialer audit compliance`` reads it)."""

    SPAN = timedelta(hours=24)

    def __init__(self) -> None:
        self._by_campaign: dict[UUID, deque[tuple[datetime, str]]] = {}
        self._last: dict[UUID, tuple[datetime, str]] = {}

    def add(self, campaign_id: UUID, rules: tuple[str, ...], reason: str, at: datetime) -> None:
        d = self._by_campaign.setdefault(campaign_id, deque())
        for rule in rules:
            d.append((at, rule))
        self._last[campaign_id] = (at, reason)

    def counts(self, campaign_id: UUID, now: datetime) -> dict[str, int]:
        d = self._by_campaign.get(campaign_id)
        if d is None:
            return {}
        while d and d[0][0] <= now - self.SPAN:
            d.popleft()
        return dict(sorted(Counter(rule for _, rule in d).items()))

    def last(self, campaign_id: UUID) -> tuple[datetime, str] | None:
        return self._last.get(campaign_id)
