"""Calling hours in the called party's local time (issue 16): each policy and its edges, the zones
a number may ring in, daylight-saving days, the 30-day limit, and the dialler keeping them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.events import ContactReturnedToList, DialAttempted
from dialer_domain.model.values import CampaignSettings, DialMode
from dialer_domain.rules.calling_hours import POLICIES, CalleeTime, next_opening, outside_hours, too_many_dials
from tests.unit.test_engine import events_of, login, setup

US, FR, NONE = POLICIES["us_tcpa"], POLICIES["fr"], POLICIES["none"]
NY, PARIS = ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris")
ALASKA = ("America/Anchorage", "America/Adak")  # +1 907: one prefix, two zones an hour apart
FR_HOLIDAYS = {date(2026, 7, 14): "National Day", date(2026, 11, 11): "Armistice Day"}


def no_holiday(country: str, day: date) -> str | None:
    return None


def fr_holiday(country: str, day: date) -> str | None:
    return FR_HOLIDAYS.get(day) if country == "FR" else None


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def test_us_hours_end_at_21_00_local_and_begin_at_08_00():
    assert outside_hours(US, ["America/New_York"], local(NY, 2026, 11, 23, 20, 59, 59), no_holiday) is None
    assert "Mon 21:00:00 in America/New_York" in outside_hours(US, ["America/New_York"], local(NY, 2026, 11, 23, 21, 0, 0), no_holiday)
    assert outside_hours(US, ["America/New_York"], local(NY, 2026, 11, 23, 7, 59, 59), no_holiday) is not None
    assert outside_hours(US, ["America/New_York"], local(NY, 2026, 11, 23, 8, 0, 0), no_holiday) is None


def test_a_number_in_two_zones_must_be_inside_the_hours_in_both():
    anchorage = ZoneInfo("America/Anchorage")
    early = local(anchorage, 2026, 11, 23, 8, 30)  # 07:30 in Adak
    assert "America/Adak" in outside_hours(US, ALASKA, early, no_holiday)
    assert outside_hours(US, ALASKA, local(anchorage, 2026, 11, 23, 20, 30), no_holiday) is None  # 19:30 in Adak
    assert next_opening(US, ALASKA, early, no_holiday) == local(ZoneInfo("America/Adak"), 2026, 11, 23, 8, 0)


@pytest.mark.parametrize(("day", "opens_utc"), [(date(2026, 3, 8), 12), (date(2026, 11, 1), 13)])
def test_on_the_days_the_clocks_change_the_hours_follow_local_time(day, opens_utc):
    """New York: summer time begins on 8 March 2026 (08:00 EDT = 12:00 UTC) and ends on
    1 November 2026 (08:00 EST = 13:00 UTC)."""
    night_before = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)  # 22:00 or 23:00 the evening before
    assert outside_hours(US, ["America/New_York"], night_before, no_holiday) is not None
    opens = next_opening(US, ["America/New_York"], night_before, no_holiday)
    assert opens == datetime(day.year, day.month, day.day, opens_utc, tzinfo=UTC)
    assert outside_hours(US, ["America/New_York"], opens - timedelta(seconds=1), no_holiday) is not None
    assert outside_hours(US, ["America/New_York"], opens, no_holiday) is None


def test_france_weekdays_around_lunch_and_never_on_a_public_holiday():
    z = ["Europe/Paris"]
    assert outside_hours(FR, z, local(PARIS, 2026, 11, 23, 10, 0), fr_holiday) is None  # a Monday
    assert outside_hours(FR, z, local(PARIS, 2026, 11, 23, 13, 30), fr_holiday) is not None  # lunch
    assert outside_hours(FR, z, local(PARIS, 2026, 11, 23, 14, 0), fr_holiday) is None
    assert outside_hours(FR, z, local(PARIS, 2026, 11, 23, 20, 0), fr_holiday) is not None
    assert outside_hours(FR, z, local(PARIS, 2026, 11, 28, 11, 0), fr_holiday) is not None  # a Saturday
    assert outside_hours(FR, z, local(PARIS, 2026, 11, 11, 11, 0), fr_holiday) == "2026-11-11 is a public holiday in FR (Armistice Day)"
    # Tuesday 10 November 19:59 -> Wednesday 11 is a holiday -> Thursday 12 at 10:00
    assert next_opening(FR, z, local(PARIS, 2026, 11, 10, 20, 0), fr_holiday) == local(PARIS, 2026, 11, 12, 10, 0)
    # Friday evening -> Monday morning
    assert next_opening(FR, z, local(PARIS, 2026, 11, 27, 20, 30), fr_holiday) == local(PARIS, 2026, 11, 30, 10, 0)


def test_france_allows_four_calls_in_thirty_days_whatever_their_rounds():
    now = local(PARIS, 2026, 11, 23, 10, 0)
    dials = [now - timedelta(days=d) for d in (29, 20, 10, 1)]
    assert "4 calls in the last 30 days" in too_many_dials(FR, dials, now)
    assert too_many_dials(FR, dials[1:], now) is None
    assert too_many_dials(US, dials * 3, now) is None  # the US rule has no such limit
    # the oldest leaves the 30 days on 24 November at 10:00, inside the hours
    assert next_opening(FR, ["Europe/Paris"], now, fr_holiday, dials) == dials[0] + timedelta(days=30)


def test_the_contacts_own_zone_wins_then_the_numbers_then_the_campaigns():
    at = datetime(2026, 11, 23, 12, tzinfo=UTC)
    own = CalleeTime.judge(at, contact_zone="Asia/Tokyo", number_zones=ALASKA, campaign_zone="Europe/Copenhagen")
    assert (own.zones, own.source, own.local_times) == (("Asia/Tokyo",), "contact", ("2026-11-23T21:00:00+09:00",))
    by_number = CalleeTime.judge(at, contact_zone=None, number_zones=ALASKA, campaign_zone="Europe/Copenhagen")
    assert (by_number.zones, by_number.source) == (ALASKA, "number")
    unknown = CalleeTime.judge(at, contact_zone=None, number_zones=("Etc/Unknown",), campaign_zone="Europe/Copenhagen")
    assert (unknown.zones, unknown.source) == (("Europe/Copenhagen",), "campaign")


def test_the_none_policy_has_no_hours_and_an_unknown_policy_is_refused():
    assert outside_hours(NONE, ALASKA, datetime(2026, 11, 23, 12, 0, tzinfo=UTC), no_holiday) is None
    with pytest.raises(InvalidValue, match="calling_policy 'uk'"):
        CampaignSettings(skill="s", calling_policy="uk")


class Calendar:
    """Numbers of +1 212 ring in New York; the rest is unknown."""

    def zones(self, e164: str) -> tuple[str, ...]:
        return ("America/New_York",) if e164.startswith("+1212") else ()

    def holiday(self, country: str, day: date) -> str | None:
        return None


def test_the_dialler_holds_a_contact_back_until_the_callees_hours_open_and_records_the_evidence():
    engine, clock, tel, _, store = setup(DialMode.POWER, contacts=0)
    engine.calendar = Calendar()
    clock.t = local(NY, 2026, 11, 23, 7, 0)  # 13:00 in Copenhagen: the campaign is open, New York is not
    add_campaign_with_number(engine, "+12125550100")
    login(engine, "a1")
    engine.tick()
    assert tel.placed == []
    [back] = events_of(store, ContactReturnedToList)
    assert back.not_before == local(NY, 2026, 11, 23, 8, 0) and "callee_local_hours" in back.reason
    clock.t = local(NY, 2026, 11, 23, 7, 59)
    engine.tick()
    assert tel.placed == [] and len(events_of(store, ContactReturnedToList)) == 1  # not queued again before then
    clock.t = local(NY, 2026, 11, 23, 8, 0, 30)
    engine.tick()
    assert len(tel.placed) == 1
    dial = events_of(store, DialAttempted)[0]
    assert "callee_local_hours" in dial.checks and dial.calling_policy == "us_tcpa"
    assert dial.callee_zones == ("America/New_York",) and dial.callee_zone_source == "number"
    assert dial.callee_local_times == ("2026-11-23T08:00:30-05:00",)


def add_campaign_with_number(engine, number: str) -> None:
    from dialer_domain.model.identities import campaign_id_for
    from dialer_domain.model.values import ContactData, PhoneNumber
    from dialer_domain.service_layer.handlers import add_contacts
    from dialer_domain.service_layer.repository import Repository

    rows = [("ny-1", (PhoneNumber(number),), ContactData(name="NY"), 5, None)]
    add_contacts(Repository(engine.store), campaign_id_for("Sales"), rows, source="test", at=engine.clock.now())
    engine.sync()


def test_an_abandoned_contact_is_not_called_again_without_an_agent_for_72_hours():
    """Ofcom: after an abandoned call, a repeat call within 72 hours only with an agent there."""
    from dialer_domain.model.events import CallAbandoned
    from dialer_domain.model.values import CallOutcome
    from dialer_domain.rules.authorisation import DialContext, not_abandoned_recently

    engine, clock, tel, _, store = setup(DialMode.POWER, contacts=2, power_ratio_ready=2.0, abandon_cap=None)  # redial after 600 s
    login(engine, "a1")
    engine.tick()
    first, second = tel.placed
    engine.on_call_progress(first, CallOutcome.ANSWERED_HUMAN)  # a1 takes it
    engine.on_call_progress(second, CallOutcome.ANSWERED_HUMAN)  # nobody is free
    clock.advance(2.1)
    engine.tick()
    [abandoned] = events_of(store, CallAbandoned)
    contact_id = abandoned.originator_id
    engine.end_call("a1")
    engine.ready("a1")
    clock.advance(3600)  # past the redial delay
    engine.tick()
    assert [e for e in events_of(store, DialAttempted) if e.originator_id == contact_id and e.timestamp > abandoned.timestamp] == []
    back = [e for e in events_of(store, ContactReturnedToList) if e.originator_id == contact_id]
    assert back and back[-1].not_before == abandoned.timestamp + timedelta(hours=72) and "not_abandoned_recently" in back[-1].reason
    contact = engine.contact(contact_id)
    at = abandoned.timestamp + timedelta(hours=71)
    assert not_abandoned_recently(DialContext(engine.campaign(contact.campaign_id), contact, at)) is not None
    assert not_abandoned_recently(DialContext(engine.campaign(contact.campaign_id), contact, at, agent_id="a1")) is None  # an agent is there
    clock.t = abandoned.timestamp + timedelta(hours=72, minutes=1)
    engine.tick()
    engine.tick()
    assert any(e.originator_id == contact_id and e.timestamp > abandoned.timestamp for e in events_of(store, DialAttempted))
