"""Opening hours (R3, R4): when a campaign may queue and place calls. Pure functions of time."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.values import CampaignStatus, DateException, OpeningHours, Period


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise InvalidValue(f"unknown time zone {name!r}") from exc


def local_time(hours: OpeningHours, at: datetime) -> datetime:
    if at.tzinfo is None:
        raise InvalidValue("times must carry a time zone (UTC in the core)")
    return at.astimezone(zone(hours.time_zone))


def local_day(hours: OpeningHours | None, at: datetime) -> tuple[str, datetime]:
    """The date of ``at`` in the hours' zone (UTC without hours), as ``YYYY-MM-DD``, and an instant
    up to which it stays that date: the next local midnight, or ``at`` itself when the zone's
    offset changes before then (on such a day the date is worked out each time)."""
    if at.tzinfo is None:
        raise InvalidValue("times must carry a time zone (UTC in the core)")
    tz = zone(hours.time_zone) if hours is not None else UTC
    local = at.astimezone(tz)
    today = local.date()
    until = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    if (until - timedelta(microseconds=1)).astimezone(tz).utcoffset() != local.utcoffset():
        until = at
    return today.isoformat(), until


def inside_period(hours: OpeningHours, at: datetime) -> bool:
    """True inside one of the day's periods: the only times contacts are queued and dialled."""
    local = local_time(hours, at)
    t = local.time()
    return any(p.contains(t) for p in hours.periods_on(local.date()))


def inside_active_window(hours: OpeningHours, at: datetime) -> bool:
    """From the day's earliest start to its latest end: the campaign is "on" (not switched off in
    the gaps between periods, R3), though nothing new is queued in a gap."""
    local = local_time(hours, at)
    periods = hours.periods_on(local.date())
    if not periods:
        return False
    t = local.time()
    return min(p.start for p in periods) <= t < max(p.end for p in periods)


def may_dial(status: CampaignStatus, hours: OpeningHours | None, at: datetime) -> bool:
    """Calls are placed only when the campaign is active and inside its hours (R3, R4)."""
    if status is CampaignStatus.DISABLED:
        return False
    if hours is None:
        return status is CampaignStatus.ENABLED
    return inside_period(hours, at)


def is_active(status: CampaignStatus, hours: OpeningHours | None, at: datetime) -> bool:
    """Whether the campaign counts as switched on (its queue is kept) at ``at``."""
    if status is CampaignStatus.DISABLED:
        return False
    if hours is None:
        return status is CampaignStatus.ENABLED
    return inside_active_window(hours, at)


def next_opening(hours: OpeningHours, at: datetime, horizon_days: int = 14) -> datetime | None:
    """The first moment at or after ``at`` that lies inside a period (None within the horizon)."""
    local = local_time(hours, at)
    tz = zone(hours.time_zone)
    for offset in range(horizon_days + 1):
        day = (local + timedelta(days=offset)).date()
        for p in sorted(hours.periods_on(day), key=lambda p: p.start):
            start = datetime.combine(day, p.start, tz)
            end = datetime.combine(day, p.end, tz)
            if end <= local:
                continue
            return max(start, local).astimezone(at.tzinfo)
    return None


#: Day names in opening-hours text (0 = Monday).
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_opening_hours(text: str, tz: str, exceptions: Sequence[str] | None = None) -> OpeningHours:
    """``mon-fri=09:00-12:00,13:00-17:00;sat=10:00-14:00``; exceptions ``2026-12-24=closed`` or
    ``2026-12-27=10:00-14:00``."""
    weekly: dict[int, tuple[Period, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        m = re.fullmatch(r"([a-z]{3})(?:-([a-z]{3}))?=(.+)", part.lower())
        if not m or m.group(1) not in DAYS or (m.group(2) and m.group(2) not in DAYS):
            raise InvalidValue(f"opening hours part {part!r} is not like mon-fri=09:00-17:00")
        first = DAYS[m.group(1)]
        last = DAYS[m.group(2)] if m.group(2) else first
        periods = _periods(m.group(3))
        for d in range(first, last + 1):
            weekly[d] = periods
    excs = []
    for e in exceptions or []:
        day, _, spec = e.partition("=")
        try:
            date = datetime.fromisoformat(day.strip()).date()
        except ValueError:
            raise InvalidValue(f"exception {e!r} is not like 2026-12-24=closed or 2026-12-27=10:00-14:00") from None
        excs.append(DateException(date, () if spec.strip() == "closed" else _periods(spec)))
    return OpeningHours(tz, weekly, tuple(excs))


def _periods(spec: str) -> tuple[Period, ...]:
    out = []
    for span in spec.split(","):
        a, _, b = span.strip().partition("-")
        try:
            out.append(Period(time.fromisoformat(a), time.fromisoformat(b)))
        except ValueError as exc:
            raise InvalidValue(f"period {span!r} is not like 09:00-12:00: {exc}") from None
    return tuple(out)
