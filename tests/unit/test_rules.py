"""Opening hours, dialling order, pacing and the authorisation step: pure functions."""

from __future__ import annotations

import ast
import pathlib
import sys
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.events import ContactImported, ContactQueued
from dialer_domain.model.values import CampaignSettings, CampaignStatus, ContactData, DateException, DialMode, OpeningHours, Period, PhoneNumber
from dialer_domain.rules import schedule
from dialer_domain.rules.authorisation import DialContext, authorise_dial
from dialer_domain.rules.ordering import dialling_order_key
from dialer_domain.rules.pacing import PacingSnapshot, decide
from dialer_domain.rules.pacing_estimates import PacingEstimator
from dialer_domain.service_layer.live_queue import LiveQueue

CPH = "Europe/Copenhagen"
HOURS = OpeningHours(
    CPH,
    {0: (Period(time(9), time(12)), Period(time(13), time(17)))},
    (DateException(date(2026, 11, 30), ()), DateException(date(2026, 11, 29), (Period(time(10), time(12)),))),
)


def cph(y, mo, d, h, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=schedule.zone(CPH)).astimezone(UTC)


# ---------------------------------------------------------------- hours (R3, R4)


def test_dialling_only_inside_a_period():
    assert schedule.inside_period(HOURS, cph(2026, 11, 23, 9, 30))  # a Monday
    assert not schedule.inside_period(HOURS, cph(2026, 11, 23, 12, 30))  # the gap
    assert not schedule.inside_period(HOURS, cph(2026, 11, 24, 10))  # Tuesday: no hours


def test_the_campaign_stays_on_in_the_gap_but_queues_nothing():
    gap = cph(2026, 11, 23, 12, 30)
    assert schedule.is_active(CampaignStatus.AUTOMATIC, HOURS, gap)
    assert not schedule.may_dial(CampaignStatus.AUTOMATIC, HOURS, gap)
    assert not schedule.is_active(CampaignStatus.AUTOMATIC, HOURS, cph(2026, 11, 23, 17, 1))


def test_dated_exceptions_close_or_open_outside_normal_hours():
    assert not schedule.inside_period(HOURS, cph(2026, 11, 30, 10))  # a Monday, closed by exception
    assert schedule.inside_period(HOURS, cph(2026, 11, 29, 11))  # a Sunday, open by exception


def test_disabled_never_dials_and_enabled_without_hours_always_may():
    t = cph(2026, 11, 23, 10)
    assert not schedule.may_dial(CampaignStatus.DISABLED, HOURS, t)
    assert schedule.may_dial(CampaignStatus.ENABLED, None, t)
    assert schedule.next_opening(HOURS, cph(2026, 11, 23, 12, 30)) == cph(2026, 11, 23, 13)


@given(
    st.sampled_from([CPH, "America/Havana", "America/Santiago", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Tehran", "UTC", None]),
    st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_a_local_day_holds_from_the_instant_asked_until_the_instant_given(zone_name, at, share):
    """``local_day``: the date ``local_time`` gives (UTC without hours), the same at every instant
    up to the one it returns; zones whose clocks change at midnight, skip a day or move by half an
    hour included. The dialler names a day's pacing log by it, worked out once a day."""
    hours = OpeningHours(zone_name, {}) if zone_name is not None else None
    day, until = schedule.local_day(hours, at)

    def date_of(t: datetime) -> str:
        return (schedule.local_time(hours, t) if hours is not None else t).date().isoformat()

    assert day == date_of(at) and until >= at
    if until > at:
        assert until - at <= timedelta(days=1)
        last = until - timedelta(microseconds=1)
        for t in (min(last, at + (until - at) * share), last):
            assert date_of(t) == day
        assert date_of(until) != day
    with pytest.raises(InvalidValue, match="time zone"):
        schedule.local_day(hours, at.replace(tzinfo=None))


def test_hours_are_validated():
    with pytest.raises(ValueError, match="overlap"):
        OpeningHours(CPH, {0: (Period(time(9), time(12)), Period(time(11), time(13)))})
    with pytest.raises(ValueError, match="end after"):
        Period(time(12), time(9))
    with pytest.raises(ValueError, match="unknown time zone"):
        schedule.zone("Mars/Olympus")


# ---------------------------------------------------------------- ordering (R11)


def test_due_callbacks_come_first_oldest_then_priority_then_new_oldest_fewest_attempts():
    t = datetime(2026, 11, 23, 9, tzinfo=UTC)
    keys = {
        "cb_old_low": dialling_order_key(callback_at=t, priority=1, created_at=t, attempts=3),
        "cb_old_high": dialling_order_key(callback_at=t, priority=9, created_at=t, attempts=3),
        "cb_new": dialling_order_key(callback_at=t + timedelta(minutes=1), priority=9, created_at=t, attempts=0),
        "new_oldest": dialling_order_key(callback_at=None, priority=1, created_at=t - timedelta(days=1), attempts=2),
        "new_fresh": dialling_order_key(callback_at=None, priority=1, created_at=t, attempts=0),
        "new_retried": dialling_order_key(callback_at=None, priority=1, created_at=t, attempts=1),
    }
    assert sorted(keys, key=keys.__getitem__) == ["cb_old_high", "cb_old_low", "cb_new", "new_oldest", "new_fresh", "new_retried"]


def test_live_queue_takes_due_contacts_in_order_and_skips_stale_entries():
    t = datetime(2026, 11, 23, 9, tzinfo=UTC)
    camp = uuid4()
    q = LiveQueue()
    ids = [uuid4() for _ in range(3)]
    for i, cid in enumerate(ids):
        q.apply(
            ContactImported(
                originator_id=cid,
                originator_version=1,
                timestamp=t + timedelta(seconds=i),
                campaign_id=camp,
                key=str(i),
                numbers=(PhoneNumber("+4520000001"),),
                data=ContactData(),
                priority=5,
                assigned_agent=None,
                source="t",
            )
        )
    assert q.take_due(camp, t + timedelta(seconds=10), 2) == ids[:2]
    q.apply(ContactQueued(originator_id=ids[0], originator_version=2, timestamp=t, campaign_id=camp))
    assert q.queued_count(camp) == 1
    assert q.next_queued(camp) == ids[0]
    assert q.take_due(camp, t + timedelta(seconds=10), 5) == ids[1:]


# ---------------------------------------------------------------- pacing (R2)


def snap(**kw):
    base = dict(
        ready_agents=0,
        wrapup_elapsed=(),
        talking_elapsed=(),
        dialling_elapsed=(),
        answered_waiting=0,
        logged_in=10,
        queued_contacts=100,
    )
    base.update(kw)
    return PacingSnapshot(**base)


SET = CampaignSettings(skill="s", power_ratio_ready=1.7, power_ratio_wrapup=0.1, caller_id_number="+4570000000")


def test_progressive_places_one_call_per_ready_agent():
    assert decide(DialMode.PROGRESSIVE, SET, snap(ready_agents=3, dialling_elapsed=(1.0,))).calls == 2
    assert decide(DialMode.PROGRESSIVE, SET, snap(ready_agents=1, dialling_elapsed=(1.0, 2.0))).calls == 0


def test_power_uses_both_ratios():
    # 1.7 x 4 + 0.1 x 10 = 7.8 -> 7 in flight
    d = decide(DialMode.POWER, SET, snap(ready_agents=4, wrapup_elapsed=(1.0,) * 10, logged_in=14))
    assert d.calls == 7 and "1.7 x 4 ready" in d.reason


def test_nothing_is_placed_below_the_minimum_of_agents():
    s = CampaignSettings(skill="s", min_agents=3)
    assert decide(DialMode.PROGRESSIVE, s, snap(ready_agents=2, logged_in=2)).calls == 0


def test_pacing_never_exceeds_the_queue():
    assert decide(DialMode.PROGRESSIVE, SET, snap(ready_agents=5, queued_contacts=2)).calls == 2


def test_predictive_dials_more_than_ready_agents_but_keeps_the_abandon_risk_bounded():
    est = PacingEstimator()
    for i in range(400):
        est.record_dial_outcome(i % 4 == 0, 9.0 if i % 4 == 0 else 25.0)
    d = decide(DialMode.PREDICTIVE, SET, snap(ready_agents=4), est)
    assert d.calls > 4  # answer probability 0.25: several calls per ready agent
    more = decide(DialMode.PREDICTIVE, SET, snap(ready_agents=4, dialling_elapsed=(1.0,) * 30), est)
    assert more.calls < d.calls  # calls already in flight use up the room
    assert d.estimates["p_human"] == pytest.approx(0.25, abs=0.02)


def test_predictive_allowance_is_tuned_down_when_abandons_run_high():
    est = PacingEstimator()
    start = est.gain
    for _ in range(200):
        est.record_answer(abandoned=True)
    est.tune(0.03)
    assert est.gain < start
    low = PacingEstimator()
    for _ in range(200):
        low.record_answer(abandoned=False)
    low.tune(0.03)
    assert low.gain > start


# ---------------------------------------------------------------- authorisation


def test_every_dial_is_authorised_with_named_checks():
    t = cph(2026, 11, 23, 10)
    c = Campaign.create(uuid4(), name="x", manager="m", dial_mode=DialMode.POWER, settings=SET, hours=HOURS, at=t)
    contact = ContactAttempt.import_(uuid4(), campaign_id=c.id, key="k", numbers=(PhoneNumber("+4520000001"),), data=ContactData(), at=t)
    blocked = authorise_dial(DialContext(c, contact, t))
    assert not blocked.allowed
    assert any("campaign_open" in r for r in blocked.reasons) and any("contact_waiting" in r for r in blocked.reasons)
    c.change_status(CampaignStatus.AUTOMATIC, t, by="m")
    contact.queue(t)
    ok = authorise_dial(DialContext(c, contact, t))
    expected = (
        "campaign_open",
        "contact_waiting",
        "attempts_left",
        "dials_left",
        "number_available",
        "caller_id_set",
        "not_abandoned_recently",
        "callee_local_hours",
        "not_on_do_not_call",
    )
    assert ok.allowed and ok.checks == expected


# ---------------------------------------------------------------- the dependency rule


ALLOWED_STDLIB = {
    "__future__",
    "abc",
    "bisect",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "heapq",
    "itertools",
    "math",
    "operator",  # the answer-time sums add two columns with operator.add (rules.pacing_estimates)
    "random",
    "re",
    "typing",
    "uuid",
    "types",
    "zoneinfo",
    "struct",  # the sort token packs a float (rules.selection)
    "hashlib",  # derived ids hash their names, as uuid.uuid5 does (model.identities)
}


def test_the_domain_imports_only_attrs_and_pure_standard_library():
    root = pathlib.Path(__file__).resolve().parents[2] / "src" / "dialer_domain"
    bad = []
    for path in root.rglob("*.py"):  # subpackages too (rules, service_layer)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                if top not in ALLOWED_STDLIB | {"attrs", "dialer_domain"}:
                    bad.append(f"{path.name}: {n}")
    assert bad == [], bad
    assert "sqlite3" in sys.stdlib_module_names  # the list above is a strict subset of the stdlib


_TEXT = st.text(alphabet=st.sampled_from(["a", " ", "\x00", "\u2028", "\x85", "é", "\t"]), max_size=6)


@given(st.dictionaries(_TEXT, _TEXT, max_size=4), st.integers(min_value=1, max_value=5))
def test_the_quick_path_of_check_variables_decides_as_the_checks_one_by_one(variables, longest):
    """check_variables skips building messages when all is well; whether it refuses, and with
    which message, is what checking each name and value in turn says."""
    from dialer_domain.model import text

    def one_by_one() -> str | None:
        try:
            for name, value in variables.items():
                text.check_text(f"f name {name[:40]!r}", name, longest, allow_empty=False)
                text.check_text(f"f {name!r}", value, longest)
        except InvalidValue as exc:
            return str(exc)
        return None

    expected = one_by_one()
    saved = text.MAX_VARIABLE_NAME, text.MAX_VARIABLE_VALUE
    text.MAX_VARIABLE_NAME = text.MAX_VARIABLE_VALUE = longest
    try:
        text.check_variables("f", variables)
        got = None
    except InvalidValue as exc:
        got = str(exc)
    finally:
        text.MAX_VARIABLE_NAME, text.MAX_VARIABLE_VALUE = saved
    assert got == expected


def test_the_statistics_folds_cases_are_disjoint():
    """``StatisticsFold.apply`` matches the most frequent events first: that chooses nothing only
    while no event class is a subclass of another class the fold reads."""
    from dialer_domain.model.events import ALL_EVENTS
    from dialer_domain.rules.statistics import StatisticsFold

    assert [(a.NAME, b.NAME) for a in ALL_EVENTS for b in StatisticsFold.EVENTS if a is not b and issubclass(a, b)] == []


def test_folds_read_together_the_fields_either_declares_and_whole_what_one_has_not():
    """``reads_together``: a class no fold looks at is read for its stream, version and time only; a
    class both declare, for the fields either names; a class one looks at undeclared, whole."""
    from dialer_domain.model.events import AgentReady, CallEnded, CallProgressed, ContactImported, ContactQueued, DialAttempted
    from dialer_domain.rules.reads import reads_together

    looks_at = (ContactImported, DialAttempted, CallProgressed, AgentReady)
    first = (looks_at, {ContactImported: ("campaign_id",), CallProgressed: ("progress",), AgentReady: ()})
    second = ((ContactImported, DialAttempted, CallEnded), {ContactImported: ("numbers", "campaign_id"), DialAttempted: ("campaign_id",)})
    together = reads_together((ContactImported, DialAttempted, CallProgressed, CallEnded, AgentReady, ContactQueued), first, second)
    assert dict(together) == {
        ContactImported: ("campaign_id", "numbers"),
        CallProgressed: ("progress",),
        AgentReady: (),
        ContactQueued: (),
    }


@given(namespace=st.uuids(), name=st.text(st.characters(blacklist_categories=("Cs",))))
def test_derived_ids_are_the_standard_librarys_uuid5(namespace, name):
    """``identities.uuid5`` gives ``uuid.uuid5``'s id for any namespace and name: every stored
    stream id derived from a name stays what it was."""
    import uuid

    from dialer_domain.model import identities

    assert identities.uuid5(namespace, name) == uuid.uuid5(namespace, name)
    assert identities.contact_id_for(namespace, name) == uuid.uuid5(namespace, f"contact/{name}")
