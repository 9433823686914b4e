"""The callee calendar on phonenumbers' zones and the holidays package (issue 16)."""

from __future__ import annotations

from datetime import date

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import timezone

from adapters.lists.calendar import PhoneCalendar, parsed


def test_a_prefix_spanning_two_zones_gives_both_and_an_unknown_one_none():
    cal = PhoneCalendar()
    assert set(cal.zones("+19075551234")) == {"America/Anchorage", "America/Adak"}
    assert cal.zones("+12125551234") == ("America/New_York",)
    assert cal.zones("+4533123456") == ("Europe/Copenhagen",)
    assert cal.zones("+4520000001") == ()  # phonenumbers does not place it: the campaign's zone is used
    assert cal.zones("not a number") == ()


def test_public_holidays_come_from_the_countrys_calendar():
    cal = PhoneCalendar()
    assert cal.holiday("FR", date(2026, 7, 14)) is not None
    assert cal.holiday("FR", date(2026, 12, 25)) is not None
    assert cal.holiday("FR", date(2026, 7, 15)) is None
    assert cal.holiday("FR", date(2027, 5, 1)) is not None  # another year


def _read(parse, text):  # type: ignore[no-untyped-def]
    """What a parser makes of ``text``: the number, or which error it raised."""
    try:
        return parse(text)
    except phonenumbers.NumberParseException as exc:
        return ("refused", exc.error_type)


def _zones_by_parse(text: str) -> tuple[str, ...]:
    """``PhoneCalendar.zones`` as it was before issue 18: the number read by ``phonenumbers.parse``."""
    try:
        found = timezone.time_zones_for_number(phonenumbers.parse(text))
    except phonenumbers.NumberParseException:
        return ()
    return tuple(z for z in found if z != timezone.UNKNOWN_TIMEZONE)


def test_every_regions_example_numbers_are_read_as_parse_reads_them_and_ring_in_the_same_zones():
    seen = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):  # every PhoneNumberType the plan has examples of
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            assert _read(parsed, text) == _read(phonenumbers.parse, text), text
            assert PhoneCalendar().zones(text) == _zones_by_parse(text), text
            seen += 1
    assert seen > 1300


CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(CODES),
    st.one_of(st.sampled_from(["", "0", "00", "1", "8", "9", "06", "80", "44"]), st.text("0123456789", max_size=3)),
    st.text("0123456789", max_size=18),
)
def test_any_plus_and_digits_is_read_as_parse_reads_it(code: int, start: str, rest: str) -> None:
    # national numbers of every length, led by the digits national prefixes are made of
    text = f"+{code}{start}{rest}"
    assert _read(parsed, text) == _read(phonenumbers.parse, text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=25))
def test_any_other_text_goes_to_parse(text: str) -> None:
    assert _read(parsed, text) == _read(phonenumbers.parse, text)


def test_a_plain_number_is_read_without_parse(monkeypatch):
    def refused(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("parse was asked")

    monkeypatch.setattr(phonenumbers, "parse", refused)
    assert parsed("+4531234567") == phonenumbers.PhoneNumber(country_code=45, national_number=31234567)
    number = parsed("+390612345678")  # Rome: the national number keeps its leading zero
    assert (number.country_code, number.national_number, number.italian_leading_zero) == (39, 612345678, True)
