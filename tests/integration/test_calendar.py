"""The callee calendar on phonenumbers' zones and the holidays package (issue 16)."""

from __future__ import annotations

from datetime import date

from adapters.lists.calendar import PhoneCalendar


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
