"""Calling hours in the called party's local time (issue 16). Pure functions of time.

Where the callee is: the contact's own time zone wins; otherwise the zones the number's prefix
covers (the ``CalleeCalendar`` port answers with phonenumbers' data); when neither is known, the
campaign's zone. Where a number maps to several zones the window must hold in every one of them.

Policies and their sources:

* ``us_tcpa``: no call before 8 a.m. or after 9 p.m. at the called party's location (47 CFR
  64.1200(c)(1), the TCPA's rules). The default.
* ``fr``: Monday to Friday, 10:00-13:00 and 14:00-20:00, never on a public holiday, and at most
  four calls to a consumer in 30 days (Code de la consommation art. L.223-1 and décret
  n° 2022-1313 of 13 October 2022).
* ``none``: no calling-hours rule, for made-up numbers only (demos, simulations); the campaign's
  own hours still apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Protocol

import attrs

from dialer_domain.model.values import CALLING_POLICY_CODES
from dialer_domain.rules.schedule import zone

Window = tuple[time, time]
#: Whether a day is a public holiday in a country: its name, or None.
HolidayLookup = Callable[[str, date], str | None]

END_OF_DAY = time(23, 59, 59, 999999)
#: How far ahead ``next_opening`` looks for a time the window holds in every zone.
LOOKAHEAD_DAYS = 21


class CalleeCalendar(Protocol):
    """Where a number rings and which days are public holidays (a port: ``service_layer.ports`` lists it)."""

    def zones(self, e164: str) -> tuple[str, ...]:
        """The IANA time zones the number's prefix covers; () when unknown."""
        ...

    def holiday(self, country: str, day: date) -> str | None:
        """The public holiday ``day`` is in ``country`` (ISO 3166 code), or None."""
        ...


class NoCalendar:
    """Knows no number's zones (the callee's own or the campaign's zone is used) and no holidays:
    for tests. The live service and the simulation are wired with the real calendar."""

    def zones(self, e164: str) -> tuple[str, ...]:
        return ()

    def holiday(self, country: str, day: date) -> str | None:
        return None


@attrs.frozen
class CallingPolicy:
    code: str
    title: str
    #: per weekday, Monday first: the [start, end) windows in the callee's local time
    week: tuple[tuple[Window, ...], ...]
    holidays_of: str | None = None  # the country whose public holidays allow no calls
    max_dials_in_30_days: int | None = None  # every dial to the contact counts, callbacks included


_EVERY_DAY_8_TO_21 = (((time(8), time(21)),),) * 7
_FR_WEEKDAY = ((time(10), time(13)), (time(14), time(20)))

POLICIES: dict[str, CallingPolicy] = {
    "us_tcpa": CallingPolicy("us_tcpa", "US TCPA, 08:00-21:00 local", _EVERY_DAY_8_TO_21),
    "fr": CallingPolicy(
        "fr",
        "France, Mon-Fri 10:00-13:00 and 14:00-20:00 local, no public holidays, 4 calls in 30 days",
        (_FR_WEEKDAY,) * 5 + ((), ()),
        holidays_of="FR",
        max_dials_in_30_days=4,
    ),
    "none": CallingPolicy("none", "no calling-hours rule (made-up numbers only)", (((time(0), END_OF_DAY),),) * 7),
}
assert tuple(POLICIES) == CALLING_POLICY_CODES


@attrs.frozen
class CalleeTime:
    """Where and when the callee is, as the rule judged it: the evidence a dial records."""

    zones: tuple[str, ...]
    source: str  # "contact" (its own time zone), "number" (the prefix's zones) or "campaign"
    local_times: tuple[str, ...]  # ISO 8601 with the offset, one per zone

    @classmethod
    def judge(cls, at: datetime, *, contact_zone: str | None, number_zones: Sequence[str], campaign_zone: str) -> CalleeTime:
        zones: tuple[str, ...]
        if contact_zone:
            zones, source = (contact_zone,), "contact"
        elif known := tuple(z for z in number_zones if z and z != "Etc/Unknown"):
            zones, source = known, "number"
        else:
            zones, source = (campaign_zone,), "campaign"
        return cls(zones, source, tuple(at.astimezone(zone(z)).isoformat(timespec="seconds") for z in zones))

    def evidence(self, policy: str) -> dict[str, object]:
        """The fields a DialAttempted records of it."""
        return {"calling_policy": policy, "callee_zones": self.zones, "callee_zone_source": self.source, "callee_local_times": self.local_times}


def outside_hours(policy: CallingPolicy, zones: Sequence[str], at: datetime, holiday: HolidayLookup) -> str | None:
    """Why ``at`` is outside the policy's hours in one of ``zones`` (None: inside in all)."""
    for z in zones:
        local = at.astimezone(zone(z))
        if policy.holidays_of is not None:
            name = holiday(policy.holidays_of, local.date())
            if name is not None:
                return f"{local.date().isoformat()} is a public holiday in {policy.holidays_of} ({name})"
        t = local.time()
        if not any(start <= t < end for start, end in policy.week[local.weekday()]):
            return f"it is {local:%a %H:%M:%S} in {z}: outside {policy.title}"
    return None


def too_many_dials(policy: CallingPolicy, dials: Sequence[datetime], at: datetime) -> str | None:
    """Why one more dial within 30 days would break the policy's limit (None: it would not)."""
    if policy.max_dials_in_30_days is None:
        return None
    recent = [d for d in dials if at - d < timedelta(days=30)]
    if len(recent) >= policy.max_dials_in_30_days:
        return f"{len(recent)} calls in the last 30 days; {policy.title} allows {policy.max_dials_in_30_days}"
    return None


def next_opening(
    policy: CallingPolicy, zones: Sequence[str], at: datetime, holiday: HolidayLookup, dials: Sequence[datetime] = ()
) -> datetime | None:
    """The first instant after ``at`` when a dial would be inside the hours in every zone and
    within the 30-day limit (None if there is none within three weeks). The earliest such instant
    is always the start of a window in one of the zones (or the moment the oldest recent dial
    leaves the 30 days), so only those are tried."""
    not_before = at
    if policy.max_dials_in_30_days is not None:
        recent = sorted(d for d in dials if at - d < timedelta(days=30))
        excess = len(recent) - policy.max_dials_in_30_days
        if excess >= 0:
            not_before = max(at, recent[excess] + timedelta(days=30))
    candidates = {not_before}
    for z in zones:
        tz = zone(z)
        first = not_before.astimezone(tz).date()
        for n in range(LOOKAHEAD_DAYS + 1):
            day = first + timedelta(days=n)
            for start, _ in policy.week[day.weekday()]:
                local = datetime.combine(day, start, tzinfo=tz)
                if local > not_before:
                    candidates.add(local)
    for t in sorted(candidates):
        if outside_hours(policy, zones, t, holiday) is None:
            return t
    return None
