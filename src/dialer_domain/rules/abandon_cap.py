"""The abandon-rate cap (issue 16, ADR 0020): abandoned calls / calls answered by a person, per
campaign, over the rolling 24 hours (UK practice, Ofcom) and 30 days (US, the TCPA's safe harbour),
must never pass the campaign's limit (3% by default). Pacing falls back towards progressive before
it would: with the abandons the limit still allows in the tighter window (its headroom) under
``EASE_BELOW`` (after what the calls already placed may bring), power's ratios and predictive's allowance are eased in proportion; under one, the
campaign is paced progressively (a call only for a ready agent, so an answer always finds one)
until answers make room again. A campaign with no history starts progressive: one abandoned call
among its first 33 answers would already put it over 3%.

``AbandonLedger`` is the fold that counts, from the log's events alone (so a restarted dialler
counts the same): human answers (``CallProgressed``) and abandoned calls (``CallAbandoned``), by
the minute, each to the campaign its ``DialAttempted`` named. A window is the whole minutes
(now - span, now].
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from dialer_domain.model.events import CallAbandoned, CallEnded, CallProgressed, DialAttempted, DomainEvent
from dialer_domain.model.values import CallOutcome

#: The rolling windows, by name, in minutes.
SPANS: tuple[tuple[str, int], ...] = (("24h", 24 * 60), ("30d", 30 * 24 * 60))
#: The longest window: how far back a restarted dialler reads the log (plus a margin for the
#: dials whose answers fall inside it).
LOOK_BACK = timedelta(minutes=max(m for _, m in SPANS)) + timedelta(hours=2)
#: Under this many abandons of headroom, over-dialling is eased in proportion.
EASE_BELOW = 4.0
#: The events the ledger reads.
EVENTS: tuple[type[DomainEvent], ...] = (DialAttempted, CallProgressed, CallAbandoned, CallEnded)


@attrs.frozen
class AbandonWindow:
    span: str
    answered: int
    abandoned: int

    @property
    def rate(self) -> float | None:
        return self.abandoned / self.answered if self.answered else None

    def headroom(self, limit: float) -> float:
        """How many more abandoned calls the window takes before its rate passes ``limit``."""
        return limit * self.answered - self.abandoned


@attrs.frozen
class AbandonCap:
    """A campaign's rolling abandon rates against its limit, as pacing sees them."""

    limit: float
    windows: tuple[AbandonWindow, ...]

    @functools.cached_property
    def headroom(self) -> float:
        """How many more abandoned calls the tightest window takes (worked out once: pacing asks often)."""
        return min((w.headroom(self.limit) for w in self.windows), default=float("inf"))

    exposure: float = 0.0  # abandons that calls already placed may still bring (``at_risk``)

    def exposed(self, exposure: float) -> AbandonCap:
        """The same rates with ``exposure`` (what ``attrs.evolve`` gives, made directly: pacing asks at each decision)."""
        return AbandonCap(self.limit, self.windows, exposure)

    @property
    def factor(self) -> float:
        """1: pace as the mode says; 0: progressively; between: over-dialling eased. The calls
        already placed use up room first."""
        h = self.headroom - self.exposure
        if h < 1:
            return 0.0
        return min(1.0, (h - 1) / (EASE_BELOW - 1))

    def most_new_calls(self, ringing: int, waiting: int, ready: int, p_human: float) -> int:
        """The most new calls whose expected abandons, with those of the calls already placed,
        still leave one abandon of room: ``waiting + p_human x (ringing + n - ready) <= headroom - 1``."""
        slack = self.headroom - 1 - waiting
        if slack < 0:
            return ready - ringing - waiting
        extra = int(slack / p_human) if p_human > 0 else 10**6
        return ready - ringing + extra

    def describe(self) -> str:
        parts = []
        for w in self.windows:
            rate = f"{w.rate:.2%}" if w.rate is not None else "no answers yet"
            parts.append(f"{w.span} {rate} ({w.abandoned}/{w.answered})")
        room = f"room for {max(0.0, self.headroom):.1f} more"
        if self.exposure:
            room += f", {self.exposure:.1f} of it at risk on calls already placed"
        return f"abandon rate {', '.join(parts)} against {self.limit:.0%}; {room}"

    def evidence(self) -> dict[str, float]:
        """The figures a pacing decision records."""
        out: dict[str, float] = {"abandon_limit": self.limit, "abandon_headroom": round(self.headroom, 3)}
        out["abandon_exposure"] = round(self.exposure, 3)
        out["abandon_cap_factor"] = round(self.factor, 3)
        for w in self.windows:
            out[f"answered_{w.span}"] = w.answered
            out[f"abandoned_{w.span}"] = w.abandoned
        return out


def at_risk(answered_waiting: int, ringing: int, ready_agents: int, p_human: float) -> float:
    """The abandons calls already placed may bring: every answered person still waiting for an
    agent, and the expected human answers among the ringing calls no ready agent is there for."""
    return answered_waiting + p_human * max(0, ringing - ready_agents)


class _Buckets:
    """One campaign's counts by minute, with a running sum per window."""

    def __init__(self) -> None:
        self.minutes: list[int] = []
        self.counts: list[list[int]] = []  # [answered, abandoned] per minute
        self.start = [0] * len(SPANS)  # per window: the first minute still inside it
        self.sums = [[0, 0] for _ in SPANS]

    def add(self, minute: int, which: int) -> None:
        if not self.minutes or minute > self.minutes[-1]:
            self.minutes.append(minute)
            self.counts.append([0, 0])
        i = len(self.minutes) - 1  # a late event counts in the latest minute: it stays in longer
        self.counts[i][which] += 1
        for k in range(len(SPANS)):
            if self.start[k] <= i:
                self.sums[k][which] += 1

    def window(self, k: int, now_minute: int) -> tuple[int, int]:
        edge = now_minute - SPANS[k][1]
        i = self.start[k]
        while i < len(self.minutes) and self.minutes[i] <= edge:
            self.sums[k][0] -= self.counts[i][0]
            self.sums[k][1] -= self.counts[i][1]
            i += 1
        self.start[k] = i
        self._trim()
        return self.sums[k][0], self.sums[k][1]

    def _trim(self) -> None:
        gone = min(self.start)
        if gone > 4096:
            del self.minutes[:gone]
            del self.counts[:gone]
            self.start = [s - gone for s in self.start]


class AbandonLedger:
    """Per campaign, human answers and abandoned calls by the minute (see the module's docstring).
    Feed it every event in log order (``apply``); ask ``cap`` for a campaign's windows now."""

    def __init__(self) -> None:
        self._campaigns: dict[UUID, _Buckets] = {}
        self._calls: dict[UUID, UUID] = {}  # call -> campaign, while the call is on
        self._counted = 0  # answers and abandons counted so far: the windows change only with it or the minute
        self._caps: dict[UUID, tuple[tuple[float, int, int], AbandonCap]] = {}  # the last cap asked for, per campaign

    def apply(self, e: DomainEvent) -> None:
        match e:
            case DialAttempted():
                self._calls[e.call_id] = e.campaign_id
            case CallProgressed() if e.progress is CallOutcome.ANSWERED_HUMAN:
                self._count(e.call_id, e.timestamp, 0)
            case CallAbandoned():
                self._count(e.call_id, e.timestamp, 1)
            case CallEnded():
                self._calls.pop(e.call_id, None)

    def _count(self, call_id: UUID, at: datetime, which: int) -> None:
        campaign = self._calls.get(call_id)
        if campaign is not None:
            self._campaigns.setdefault(campaign, _Buckets()).add(_minute(at), which)
            self._counted += 1

    def windows(self, campaign_id: UUID, now: datetime) -> tuple[AbandonWindow, ...]:
        b = self._campaigns.get(campaign_id)
        out = []
        for k, (span, _) in enumerate(SPANS):
            answered, abandoned = b.window(k, _minute(now)) if b is not None else (0, 0)
            out.append(AbandonWindow(span, answered, abandoned))
        return tuple(out)

    def cap(self, campaign_id: UUID, limit: float, now: datetime) -> AbandonCap:
        """The campaign's windows now against ``limit``; the same within a minute while nothing
        is counted (pacing asks at every decision), so kept until then."""
        key = (limit, _minute(now), self._counted)
        kept = self._caps.get(campaign_id)
        if kept is None or kept[0] != key:
            kept = self._caps[campaign_id] = (key, AbandonCap(limit, self.windows(campaign_id, now)))
        return kept[1]


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)
