"""The callee calendar port (``rules.calling_hours``) on phonenumbers' time-zone data and the
``holidays`` package's public holidays."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import holidays
import phonenumbers
from phonenumbers import PhoneMetadata, timezone


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
        found = timezone.time_zones_for_number(parsed(e164))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in found if z != timezone.UNKNOWN_TIMEZONE)


_E164 = re.compile(r"\+([1-9][0-9]{2,19})")


def parsed(e164: str) -> phonenumbers.PhoneNumber:
    """``phonenumbers.parse(e164)``, the same number, in a fifth of its time where that is plain
    (issue 18: each dial asks where its number rings, and parsing was most of it). A number written
    in E.164 (a country code the plan knows, a national number of 2 to 17 digits) whose national
    number no national prefix of its country can be read from is exactly its country code, its
    digits and their leading zeros: parse reads nothing else from it. Anything else goes to
    ``parse`` itself; ``tests/integration/test_calendar.py`` holds the two to the same answers
    country by country."""
    plain = _E164.fullmatch(e164)
    if plain is not None:
        digits = plain.group(1)
        for size in (1, 2, 3):  # country codes are prefix-free (E.164): at most one of these is one
            code = int(digits[:size])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                meta = PhoneMetadata.metadata_for_region_or_calling_code(code, phonenumbers.region_code_for_country_code(code))
                if meta is None or not 2 <= len(national) <= 17:
                    break
                prefix = meta.national_prefix_for_parsing
                if prefix and re.match(prefix, national):
                    break  # parse may read a national prefix off it
                number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
                if len(national) > 1 and national[0] == "0":  # as parse sets them
                    number.italian_leading_zero = True
                    zeros = len(national) - len(national.lstrip("0"))
                    zeros = min(zeros, len(national) - 1)
                    if zeros != 1:
                        number.number_of_leading_zeros = zeros
                return number
    return phonenumbers.parse(e164)


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)
