"""R18's dispositions with what they do and the call guide's answers, R12's callbacks booked, moved
and called off from the outside, and a callback asked for outside the campaign's hours."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dialer_domain.model.errors import InvalidValue, NotAllowed
from dialer_domain.model.events import (
    CallbackCancelled,
    CallbackMoved,
    CallbackScheduled,
    ContactClosed,
    ContactReopened,
    DialAttempted,
    DispositionRecorded,
)
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import (
    DEFAULT_DISPOSITIONS,
    CallOutcome,
    CampaignSettings,
    ContactState,
    DialMode,
    Disposition,
    GuideQuestion,
)
from dialer_domain.rules.callbacks import callback_time
from dialer_domain.rules.schedule import parse_opening_hours
from dialer_domain.rules.statistics import StatisticsFold
from dialer_domain.service_layer import callbacks
from dialer_domain.service_layer.repository import Repository
from tests.unit.test_engine import events_of, login, setup

CODES = (
    *DEFAULT_DISPOSITIONS,
    Disposition(code="wrong_number", label="wrong number", ends_contact=True),
    Disposition(code="call_back", callback=True),
    Disposition(code="appointment", success=True, ends_contact=True),
)


def _talk_and_hang_up(engine, clock, tel, outcome=CallOutcome.ANSWERED_HUMAN):
    engine.tick()
    call = tel.placed[-1]
    clock.advance(5)
    if outcome is CallOutcome.ANSWERED_HUMAN:
        engine.on_call_progress(call, outcome)
        clock.advance(30)
        engine.end_call("a1")
    else:
        engine.on_call_ended(call, outcome)
    return call


def _campaign(engine):
    return engine.campaign(campaign_id_for("Sales"))


def test_a_disposition_records_its_success_and_the_call_guides_answers_which_are_checked():
    engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=3, dispositions=CODES)
    c = _campaign(engine)
    c.set_call_guide((GuideQuestion("Interested?", ("yes", "no")), GuideQuestion("Which product?")), clock.now(), "test")
    Repository(store).save(c)
    engine.sync()
    login(engine, "a1")
    _talk_and_hang_up(engine, clock, tel)
    for answers, says in [
        ({"Interested?": "maybe"}, "'maybe' is not an answer to 'Interested?'; it takes yes, no"),
        ({"Budget?": "big"}, "the call guide has no question 'Budget?'"),
        ({"Which product?": "fibre\x00"}, "control character"),
    ]:
        with pytest.raises(InvalidValue, match=re.escape(says)):
            engine.dispose("a1", "appointment", answers=answers)
    with pytest.raises(InvalidValue, match="'nope' is not one of this campaign's codes"):
        engine.dispose("a1", "nope")
    assert events_of(store, DispositionRecorded) == []  # nothing half-written
    engine.dispose("a1", "appointment", answers={"Interested?": "yes", "Which product?": "fibre 1000"})
    [d] = events_of(store, DispositionRecorded)
    assert (d.code, d.success, dict(d.answers)) == ("appointment", True, {"Interested?": "yes", "Which product?": "fibre 1000"})
    fold = StatisticsFold()
    for r in store.read(0, 10**6):
        fold.apply(r.event)
    [cell] = fold.by_campaign_hour.values()
    assert (cell.successes, cell.dispositions) == (1, {"appointment": 1})


def test_after_a_call_that_reached_an_agent_only_a_code_that_ends_the_contact_finishes_it():
    engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=1, dispositions=CODES, attempts_per_number=5)
    login(engine, "a1")
    _talk_and_hang_up(engine, clock, tel)
    contact_id = events_of(store, DialAttempted)[0].originator_id
    with pytest.raises(InvalidValue, match="call_back books a callback: give its time"):
        engine.dispose("a1", "call_back")
    engine.dispose("a1", "answering_machine", note="the agent heard a machine")
    [reopened] = events_of(store, ContactReopened)
    assert reopened.next_dial_at == clock.now() + timedelta(seconds=600)  # the campaign's redial delay
    assert engine.contact(contact_id).state is ContactState.PENDING
    engine.ready("a1")
    clock.advance(601)
    _talk_and_hang_up(engine, clock, tel)
    assert len(tel.placed) == 2  # the second attempt
    engine.dispose("a1", "wrong_number")  # ends the contact: it was finished by the call already, nothing more
    assert engine.contact(contact_id).state is ContactState.DONE and len(events_of(store, ContactReopened)) == 1
    engine.ready("a1")
    clock.advance(3600)
    engine.tick()
    assert len(tel.placed) == 2  # never dialled again


def test_a_code_that_ends_the_contact_finishes_an_open_one_with_attempts_left():
    from dialer_domain.model.contact import ContactAttempt
    from dialer_domain.model.values import ContactData, PhoneNumber

    t = datetime(2026, 11, 23, 9, tzinfo=UTC)
    settings = CampaignSettings(skill="s", dispositions=CODES)
    number = (PhoneNumber("+4520000001"),)
    c = ContactAttempt.import_(campaign_id_for("S"), campaign_id=campaign_id_for("S"), key="k", numbers=number, data=ContactData(), at=t)
    c.record_disposition(None, "wrong_number", agent_id=None, note="told by a neighbour", settings=settings, at=t)
    assert c.state is ContactState.DONE and isinstance(c.pending_events[-1], ContactClosed)
    assert c.pending_events[-1].reason_code == "closed_by_disposition"


def test_a_callback_is_booked_moved_and_cancelled_from_the_outside_and_counted_once():
    engine, clock, _tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=2)
    repo = Repository(store)
    c = _campaign(engine)
    now = clock.now()
    first = callbacks.book_callback(repo, c, "Sales-0", now + timedelta(hours=2), agent_id="a7", by="supervisor ann", now=now)
    assert (first.moved, first.warning, first.contact.state) == (False, "", ContactState.CALLBACK_SCHEDULED)
    moved = callbacks.book_callback(repo, c, "Sales-0", now + timedelta(hours=3), agent_id=None, by="supervisor ann", now=now)
    assert moved.moved and moved.contact.callback_at == now + timedelta(hours=3) and moved.contact.callback_agent is None
    assert moved.contact.round == 2  # the same callback: its round did not start again
    with pytest.raises(InvalidValue, match="not in the future"):
        callbacks.book_callback(repo, c, "Sales-0", now - timedelta(minutes=1), agent_id=None, by="x", now=now)
    with pytest.raises(NotAllowed, match="has no callback booked to cancel"):
        callbacks.cancel_callback(repo, c, "Sales-1", by="x", reason="", close=False, now=now)
    back = callbacks.cancel_callback(repo, c, "Sales-0", by="supervisor ann", reason="the customer called in", close=False, now=now)
    assert (back.state, back.callback_at, back.due_at()) == (ContactState.PENDING, None, now)  # never called: due at once
    callbacks.book_callback(repo, c, "Sales-1", now + timedelta(hours=1), agent_id=None, by="crm", now=now)
    done = callbacks.cancel_callback(repo, c, "Sales-1", by="crm", reason="bought online", close=True, now=now)
    assert done.state is ContactState.DONE
    assert [type(e).__name__ for e in events_of(store, (CallbackScheduled, CallbackMoved, CallbackCancelled))] == [
        "CallbackScheduled", "CallbackMoved", "CallbackCancelled", "CallbackScheduled", "CallbackCancelled",
    ]
    fold = StatisticsFold()
    for r in store.read(0, 10**6):
        fold.apply(r.event)
    [cell] = fold.by_campaign_hour.values()
    assert cell.callbacks_set == 2 and fold.callback_pending == {}  # a moved callback is one; a cancelled one is not missed


def test_a_moved_callback_is_dialled_at_its_new_time():
    engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=1)
    repo = Repository(store)
    now = clock.now()
    callbacks.book_callback(repo, _campaign(engine), "Sales-0", now + timedelta(minutes=30), agent_id=None, by="x", now=now)
    callbacks.book_callback(repo, _campaign(engine), "Sales-0", now + timedelta(minutes=90), agent_id=None, by="x", now=now)
    engine.sync()
    login(engine, "a1")
    while clock.t < now + timedelta(minutes=100) and not tel.placed:
        clock.advance(30)
        engine.tick()
    [dial] = events_of(store, DialAttempted)
    assert now + timedelta(minutes=90) <= dial.timestamp <= now + timedelta(minutes=95) and dial.callback


HOURS = parse_opening_hours("mon-fri=09:00-17:00", "Europe/Copenhagen")


def test_a_callback_outside_the_hours_is_refused_with_the_next_opening_or_moved_there():
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 19:00 in Copenhagen
    with pytest.raises(InvalidValue, match="outside the campaign's hours; the next opening is 2026-11-30 09:00 Europe/Copenhagen"):
        callback_time(friday_evening, HOURS, "refuse")
    at, warning = callback_time(friday_evening, HOURS, "move")
    assert at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC) and "moved to the next opening, 2026-11-30 09:00" in warning
    inside = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert callback_time(inside, HOURS, "refuse") == (inside, "")
    assert callback_time(friday_evening, None, "refuse") == (friday_evening, "")  # no hours: any time
    with pytest.raises(InvalidValue, match="callback_outside_hours 'later' is not refuse or move"):
        CampaignSettings(skill="s", callback_outside_hours="later")


def test_hold_and_resume_are_the_agents_actions_and_a_call_on_hold_cannot_be_hung_up():
    from dialer_domain.model.events import CallHeld, CallResumed

    engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=1)
    login(engine, "a1")
    engine.tick()
    [call] = tel.placed
    with pytest.raises(NotAllowed, match="must be talking to put a call on hold"):
        engine.hold("a1")
    clock.advance(5)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    clock.advance(10)
    engine.hold("a1")
    with pytest.raises(NotAllowed, match="on hold already"):
        engine.hold("a1")
    clock.advance(20)
    with pytest.raises(NotAllowed, match="on hold; resume it before hanging up"):
        engine.end_call("a1")
    assert engine.agent("a1").state.value == "talking" and call in engine.calls  # nothing changed
    engine.hold("a1", False)
    with pytest.raises(NotAllowed, match="is not on hold"):
        engine.hold("a1", False)
    engine.end_call("a1")
    [held], [resumed] = events_of(store, CallHeld), events_of(store, CallResumed)
    assert held.call_id == resumed.call_id == call and resumed.held_seconds == 20
    assert tel.held == [(call, "a1", True), (call, "a1", False)]  # the network was told, after each step committed


def test_a_person_who_hangs_up_on_hold_ends_the_call_and_the_hold():
    engine, clock, tel, _desk, _store = setup(DialMode.PROGRESSIVE, contacts=1)
    login(engine, "a1")
    engine.tick()
    [call] = tel.placed
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    engine.hold("a1")
    clock.advance(30)
    engine.on_call_ended(call, CallOutcome.COMPLETED)  # a fact from the network: never refused
    s = engine.agent("a1")
    assert s.state.value == "wrap_up" and s.held_since is None


def test_a_callback_enters_the_queue_at_its_time_not_at_the_next_top_up_while_fresh_contacts_are_dialled():
    engine, clock, _tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=40, max_ring_seconds=20)
    login(engine, "a1", "a2")
    start = clock.now()
    appointment = start + timedelta(minutes=10, seconds=17)  # between two periodic top-ups
    callbacks.book_callback(Repository(store), _campaign(engine), "Sales-39", appointment, agent_id=None, by="crm", now=start)
    engine.sync()
    engine.tick()
    while clock.t < appointment + timedelta(minutes=2):
        due = engine.next_due()
        clock.t = min(clock.t + timedelta(seconds=5), due) if due is not None and due > clock.t else clock.t + timedelta(seconds=5)
        for call in list(engine.calls):  # every fresh contact rings out unanswered: the queue stays busy
            if engine.calls[call].answered_at is None and (clock.t - engine.calls[call].dialled_at).total_seconds() >= 15:
                engine.on_call_ended(call, CallOutcome.NO_ANSWER)
        engine.tick()
    dials = [e for e in events_of(store, DialAttempted) if e.callback]
    assert len(dials) == 1
    late = (dials[0].timestamp - appointment).total_seconds()
    assert 0 <= late <= 6, late  # as soon as an agent is free (calls ring out every 15 s), not at a later top-up (18 s here before)


@pytest.mark.parametrize("after_wait", ["any_agent", "missed"])
def test_a_personal_callback_waits_for_its_own_agent_only_as_long_as_the_campaign_says(after_wait):
    engine, clock, _tel, _desk, store = setup(
        DialMode.PREVIEW, contacts=3, personal_callback_wait_seconds=300, personal_callback_after_wait=after_wait
    )
    repo = Repository(store)
    now = clock.now()
    appointment = now + timedelta(minutes=10)
    callbacks.book_callback(repo, _campaign(engine), "Sales-0", appointment, agent_id="a1", by="a1", now=now)
    engine.sync()
    engine.log_in("a1", skills=("sales",))  # a1 is logged in but paused all along: busy elsewhere
    engine.log_in("a2", skills=("sales",))
    engine.ready("a2")
    contact_id = next(e.originator_id for e in events_of(store, CallbackScheduled))
    offered_to_a2 = None
    while clock.t < appointment + timedelta(minutes=12):
        clock.advance(20)
        engine.tick()
        s = engine.agent("a2")
        if s.state.value == "paused":  # an offer left unanswered pauses the agent: back to ready
            engine.ready("a2")
            s = engine.agent("a2")
        if s.state.value == "offered":
            if s.offer_contact == contact_id:
                offered_to_a2 = clock.t
                break
            engine.decline_offer("a2", s.offer_id)  # not this one: a fresh contact, declined
    if after_wait == "any_agent":
        assert offered_to_a2 is not None and appointment + timedelta(seconds=300) <= offered_to_a2 <= appointment + timedelta(seconds=360)
    else:
        assert offered_to_a2 is None  # it waits for a1 (and the statistics report it missed)


def test_dispose_then_ready_stores_what_dispose_and_ready_would_in_one_append_and_neither_when_it_fails():
    from dialer_domain.model.values import AgentState

    def run(together):
        engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=3, dispositions=CODES)
        login(engine, "a1")
        _talk_and_hang_up(engine, clock, tel)
        appends = []
        append = store.append
        store.append = lambda events: appends.append(len(events)) or append(events)
        if together:
            with pytest.raises(InvalidValue):  # a code the campaign does not have: neither stored
                engine.dispose("a1", "nope", then_ready=True)
            assert engine.agents["a1"].state is AgentState.WRAP_UP and appends == []
            engine.dispose("a1", "sale", note="done", then_ready=True)
        else:
            engine.dispose("a1", "sale", note="done")
            engine.ready("a1")
        assert engine.agents["a1"].state is not AgentState.WRAP_UP
        log = [(type(r.event).__name__, r.event.originator_id, r.event.originator_version) for r in store.read(0, 10**6)]
        return log, appends, tel.placed

    apart, apart_appends, apart_placed = run(False)
    together, together_appends, together_placed = run(True)
    assert together == apart and len(together_placed) == len(apart_placed) == 2  # the next call placed by the same pacing
    assert len(apart_appends) == 2 and together_appends == [sum(apart_appends)]
