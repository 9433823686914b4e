"""The callee calendar port (``rules.calling_hours``) on phonenumbers' time-zone data and the
``holidays`` package's public holidays."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays
import phonenumbers
from phonenumbers import timezone


class PhoneCalendar:
    """Where a number rings: the zones phonenumbers gives for its prefix (several for a prefix that
    spans zones, such as +1 907: Anchorage and Adak); () when it does not know. Which days are
    public holidays: the ``holidays`` package's calendar of the country."""

    def zones(self, e164: str) -> tuple[str, ...]:
        return _zones(e164)

    def holiday(self, country: str, day: date) -> str | None:
        name = _calendar(country, day.year).get(day)
        return str(name) if name is not None else None


@lru_cache(maxsize=1 << 16)
def _zones(e164: str) -> tuple[str, ...]:
    try:
        found = timezone.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in found if z != timezone.UNKNOWN_TIMEZONE)


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)
