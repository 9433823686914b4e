"""The abandon-rate cap (issue 16, ADR 0020): the rolling counts, the ease towards progressive,
and the dialler keeping it as abandons come in during the day and after a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import attrs
import pytest

from dialer_domain.model.events import CallAbandoned, CallEnded, CallProgressed, DialAttempted, PacingDecided
from dialer_domain.model.identities import seeded_ids
from dialer_domain.model.values import CallOutcome, CampaignSettings, DialMode
from dialer_domain.rules.abandon_cap import EASE_BELOW, AbandonCap, AbandonLedger, AbandonWindow
from dialer_domain.rules.pacing import PacingSnapshot, decide
from dialer_domain.rules.pacing_estimates import PacingEstimator
from dialer_domain.service_layer.engine import Dialler
from tests.unit.test_engine import RecordingTelephony, events_of, login, setup

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
CAMPAIGN = uuid4()


def dial(ledger: AbandonLedger, at: datetime, human: bool = True, abandoned: bool = False, campaign=CAMPAIGN) -> None:
    call, contact = uuid4(), uuid4()
    common = {"originator_id": contact, "timestamp": at}
    ledger.apply(_dial_event(call, campaign, **common))
    if human:
        ledger.apply(CallProgressed(originator_version=3, call_id=call, progress=CallOutcome.ANSWERED_HUMAN, **common))
    if abandoned:
        ledger.apply(CallAbandoned(originator_version=4, call_id=call, wait_seconds=2.0, reason="no agent", **common))
    ledger.apply(
        CallEnded(
            originator_version=5,
            call_id=call,
            outcome=CallOutcome.COMPLETED,
            reason="",
            counts_as_attempt=True,
            talk_seconds=0.0,
            next_dial_at=None,
            **common,
        )
    )


def _dial_event(call, campaign, version=2, **common) -> DialAttempted:
    return DialAttempted(
        originator_version=version,
        campaign_id=campaign,
        call_id=call,
        number_index=0,
        number="+4520000000",
        attempt_no=1,
        dial_mode=DialMode.POWER,
        agent_id=None,
        decision_id=None,
        caller_id_number="+4570000000",
        caller_id_name="",
        max_ring_seconds=25,
        checks=(),
        **common,
    )


def test_the_ledger_counts_human_answers_and_abandons_in_rolling_24_hour_and_30_day_windows():
    ledger = AbandonLedger()
    dial(ledger, T0 - timedelta(days=10), abandoned=True)  # in the 30 days only
    for i in range(40):
        dial(ledger, T0 - timedelta(hours=2, minutes=i))
    dial(ledger, T0 - timedelta(hours=1), abandoned=True)
    dial(ledger, T0 - timedelta(minutes=30), human=False)  # a machine or no answer counts nowhere
    dial(ledger, T0, campaign=uuid4(), abandoned=True)  # another campaign's
    day, month = ledger.windows(CAMPAIGN, T0)
    assert (day.span, day.answered, day.abandoned) == ("24h", 41, 1)
    assert (month.span, month.answered, month.abandoned) == ("30d", 42, 2)
    later_day, later_month = ledger.windows(CAMPAIGN, T0 + timedelta(hours=22, minutes=30))  # the 40 answers of T0-2h have left the 24 hours
    assert (later_day.answered, later_day.abandoned) == (1, 1)
    assert (later_month.answered, later_month.abandoned) == (42, 2)
    assert ledger.windows(CAMPAIGN, T0 + timedelta(days=31))[1].answered == 0


def test_the_cap_kept_within_a_minute_is_the_windows_of_that_moment():
    """The ledger keeps a campaign's cap while the minute and its counts stay as they were (pacing
    asks at every decision): a count in the same minute, the next minute, another limit or another
    campaign each give the windows of that moment."""
    ledger = AbandonLedger()
    dial(ledger, T0 - timedelta(hours=24) + timedelta(seconds=90))  # leaves the 24 hours at T0 + 1 min
    first = ledger.cap(CAMPAIGN, 0.03, T0)
    assert ledger.cap(CAMPAIGN, 0.03, T0 + timedelta(seconds=59)) is first
    assert first.windows == ledger.windows(CAMPAIGN, T0) and first.windows[0].answered == 1
    dial(ledger, T0 + timedelta(seconds=10), abandoned=True)
    counted = ledger.cap(CAMPAIGN, 0.03, T0 + timedelta(seconds=20))
    assert [(w.answered, w.abandoned) for w in counted.windows] == [(2, 1), (2, 1)]
    assert ledger.cap(CAMPAIGN, 0.05, T0 + timedelta(seconds=20)).limit == 0.05
    assert ledger.cap(uuid4(), 0.03, T0 + timedelta(seconds=20)).windows[0].answered == 0
    later = ledger.cap(CAMPAIGN, 0.03, T0 + timedelta(minutes=1))
    assert [(w.answered, w.abandoned) for w in later.windows] == [(1, 1), (2, 1)]


def test_the_window_edge_is_by_whole_minutes():
    ledger = AbandonLedger()
    at = datetime(2026, 11, 22, 9, 0, 30, tzinfo=UTC)
    dial(ledger, at)
    assert ledger.windows(CAMPAIGN, at + timedelta(hours=24) - timedelta(seconds=31))[0].answered == 1  # 08:59:59 next day
    assert ledger.windows(CAMPAIGN, at + timedelta(hours=24) - timedelta(seconds=30))[0].answered == 0  # 09:00:00


@pytest.mark.parametrize(
    ("answered", "abandoned", "factor"),
    [
        (0, 0, 0.0),  # no history: progressive
        (33, 0, 0.0),  # 0.99 abandons of room
        (34, 0, 0.0066),  # just over one: barely eased
        (100, 0, 0.6667),
        (200, 2, 1.0),  # 4 of room
        (1000, 29, 0.0),  # 1 of room: the next abandon would reach the limit
        (1000, 31, 0.0),  # over the limit already
    ],
)
def test_the_headroom_eases_over_dialling_towards_progressive(answered, abandoned, factor):
    cap = AbandonCap(0.03, (AbandonWindow("24h", answered, abandoned), AbandonWindow("30d", answered * 10, abandoned)))
    assert cap.factor == pytest.approx(factor, abs=1e-3)
    assert EASE_BELOW == 4.0
    # the calls already placed use up room first; ``exposed`` is ``attrs.evolve``'s result
    exposed = cap.exposed(1.5)
    assert exposed == attrs.evolve(cap, exposure=1.5) and exposed.headroom == cap.headroom
    assert exposed.factor == (min(1.0, (cap.headroom - 1.5 - 1) / (EASE_BELOW - 1)) if cap.headroom - 1.5 >= 1 else 0.0)


def test_the_tighter_window_decides():
    cap = AbandonCap(0.03, (AbandonWindow("24h", 1000, 0), AbandonWindow("30d", 1000, 30)))
    assert cap.headroom == pytest.approx(0.0) and cap.factor == 0.0


SNAP = PacingSnapshot(
    ready_agents=4, wrapup_elapsed=(5.0, 5.0), talking_elapsed=(30.0,) * 4, dialling_elapsed=(), answered_waiting=0, logged_in=10, queued_contacts=100
)


def test_power_falls_back_to_progressive_at_the_cap_and_is_eased_near_it():
    settings = CampaignSettings(skill="s", power_ratio_ready=3.0, power_ratio_wrapup=0.5)
    full = decide(DialMode.POWER, settings, SNAP, cap=AbandonCap(0.03, (AbandonWindow("24h", 1000, 0),)))
    assert full.calls == 13 and full.estimates["abandon_headroom"] == 30  # 3 x 4 + 0.5 x 2
    capped = decide(DialMode.POWER, settings, SNAP, cap=AbandonCap(0.03, (AbandonWindow("24h", 1000, 30),)))
    assert capped.calls == 4 and "abandon-rate cap" in capped.reason and "30/1000" in capped.reason
    eased = decide(DialMode.POWER, settings, SNAP, cap=AbandonCap(0.03, (AbandonWindow("24h", 1000, 27.5),)))  # 2.5 of room
    assert 4 < eased.calls < 13 and "eased" in eased.reason


def test_predictive_falls_back_to_progressive_at_the_cap():
    settings = CampaignSettings(skill="s")
    free = decide(DialMode.PREDICTIVE, settings, SNAP, PacingEstimator(), cap=AbandonCap(0.03, (AbandonWindow("24h", 10_000, 0),)))
    capped = decide(DialMode.PREDICTIVE, settings, SNAP, PacingEstimator(), cap=AbandonCap(0.03, (AbandonWindow("24h", 10_000, 300),)))
    assert free.calls > SNAP.ready_agents
    assert capped.calls == SNAP.ready_agents and capped.reason.startswith("predictive paced as progressive")


def test_progressive_is_never_held_back_by_the_cap():
    cap = AbandonCap(0.03, (AbandonWindow("24h", 10, 5),))
    assert decide(DialMode.PROGRESSIVE, CampaignSettings(skill="s"), SNAP, cap=cap).calls == SNAP.ready_agents


def one_answer(engine, clock, tel, ended: set) -> None:
    """The first call in flight is answered by a person and talked; the others ring out."""
    engine.tick()  # the queue's top-up, as the live service's ticks do
    first, *rest = [c for c in tel.placed if c not in ended]
    clock.advance(5)
    for call in rest:
        engine.on_call_ended(call, CallOutcome.NO_ANSWER)
        ended.add(call)
    engine.on_call_progress(first, CallOutcome.ANSWERED_HUMAN)
    clock.advance(5)
    engine.on_call_ended(first, CallOutcome.COMPLETED)
    ended.add(first)
    engine.dispose("a1", "sale")
    engine.ready("a1")


def test_the_dialler_keeps_the_cap_as_abandons_come_in_mid_day_and_after_a_restart():
    engine, clock, tel, _desk, store = setup(DialMode.POWER, contacts=120, power_ratio_ready=3.0, abandon_cap=0.1)
    login(engine, "a1")
    engine.tick()
    assert len(tel.placed) == 1  # a new campaign starts progressive
    assert "abandon-rate cap" in events_of(store, PacingDecided)[-1].reason
    ended: set = set()
    for _ in range(40):  # 40 answers, none abandoned: room for 4
        one_answer(engine, clock, tel, ended)
    clock.advance(1)
    engine.tick()
    in_flight = [c for c in tel.placed if c not in ended]
    assert len(in_flight) == 3  # power's 3 x 1 ready, no longer eased
    decision = events_of(store, PacingDecided)[-1]
    assert decision.estimates["answered_24h"] == 40 and decision.estimates["abandon_cap_factor"] == 1.0
    # mid-day, three answers at once for one agent: two are abandoned
    for call in in_flight:
        engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    clock.advance(2.5)
    engine.tick()
    assert len(events_of(store, CallAbandoned)) == 2
    # 43 answered, 2 abandoned: room for 2.3, so power's ratio is eased from 3 to 1.87: one call
    engine.on_call_ended(in_flight[0], CallOutcome.COMPLETED)
    engine.dispose("a1", "sale")
    before = len(tel.placed)
    engine.ready("a1")
    decision = events_of(store, PacingDecided)[-1]
    assert len(tel.placed) - before == 1 and decision.calls_to_place == 1
    assert "power: 1.86667 x 1 ready" in decision.reason and "ratios eased by the abandon-rate cap" in decision.reason

    # a restarted dialler counts the same from the log
    again = Dialler(store, RecordingTelephony(), clock, seeded_ids(8))
    again.sync()
    c = next(iter(again.campaigns.values()))
    assert again.folds.abandons.windows(c.id, clock.t) == engine.folds.abandons.windows(c.id, clock.t)


def test_a_restart_finds_where_the_longest_window_begins_by_a_search_on_the_logs_times():
    from dialer_domain.service_layer.folds import LogFolds
    from dialer_domain.service_layer.repository import Repository
    from tests.fakes import InMemoryEventStore

    store = InMemoryEventStore()
    ledger = AbandonLedger()
    for day in range(40, -1, -1):  # a dial a day for 40 days, the odd ones abandoned
        at = T0 - timedelta(days=day)
        before = store.max_position()
        call, contact = uuid4(), uuid4()
        store.append([_dial_event(call, CAMPAIGN, version=1, originator_id=contact, timestamp=at)])
        store.append([CallProgressed(originator_id=contact, originator_version=2, timestamp=at, call_id=call, progress=CallOutcome.ANSWERED_HUMAN)])
        if day % 2:
            store.append([CallAbandoned(originator_id=contact, originator_version=3, timestamp=at, call_id=call, wait_seconds=2.0, reason="")])
        assert store.max_position() > before
    for r in store.read(0, 10**6):
        ledger.apply(r.event)
    folds = LogFolds(store, Repository(store), None, lambda: T0)  # type: ignore[arg-type]
    for when in (T0 - timedelta(days=30, hours=2), T0 - timedelta(days=41), T0 + timedelta(days=1), T0 - timedelta(days=7, minutes=1)):
        after = folds._first_position_after(when, store.max_position())
        events = store.read(after, 10**6)
        assert all(r.event.timestamp >= when for r in events)
        assert all(r.event.timestamp < when for r in store.read(0, after))
    since = folds._first_position_after(T0 - timedelta(days=30, hours=2), store.max_position())
    for r in store.read(since, 10**6):
        folds.abandons.apply(r.event)
    assert folds.abandons.windows(CAMPAIGN, T0) == ledger.windows(CAMPAIGN, T0)
    assert ledger.windows(CAMPAIGN, T0)[1] == AbandonWindow("30d", 30, 15)


@pytest.mark.parametrize(
    ("abandoned", "ringing", "waiting", "ready", "most"),
    [
        (6, 0, 0, 3, 3),  # no room: a call per ready agent only
        (4, 0, 0, 3, 7),  # 2 of room, 1 of slack at p 0.25: 4 calls beyond the 3 ready agents
        (4, 4, 0, 3, 3),  # one call already beyond them: 3 more
        (3, 0, 2, 3, 3),  # 3 of room, two answered people waiting use up the slack
        (2, 0, 4, 3, -1),  # four waiting for three agents: no new call
    ],
)
def test_the_most_new_calls_leave_one_abandon_of_room_after_the_expected_ones(abandoned, ringing, waiting, ready, most):
    cap = AbandonCap(0.03, (AbandonWindow("24h", 200, abandoned),))  # room: 6 - abandoned
    assert cap.most_new_calls(ringing, waiting, ready, 0.25) == most
