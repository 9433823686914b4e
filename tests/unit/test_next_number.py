"""R8: when a contact's first number is not answered, its next number is dialled at the contact's
next turn (not behind every fresh contact), after the campaign's delay between numbers if it has one."""

from __future__ import annotations

from datetime import timedelta

from dialer_domain.model.events import DialAttempted
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import CallOutcome, ContactData, DialMode, PhoneNumber
from dialer_domain.service_layer.handlers import add_contacts
from dialer_domain.service_layer.repository import Repository
from tests.unit.test_engine import events_of, login, setup


def _world(**settings):
    engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=0, **settings)
    rows = [("two-numbers", (PhoneNumber("+4520000001"), PhoneNumber("+4520000002")), ContactData(), 5, None)]
    rows += [(f"fresh-{i:02d}", (PhoneNumber(f"+45300000{i:02d}"),), ContactData(), 5, None) for i in range(30)]
    add_contacts(Repository(store), campaign_id_for("Sales"), rows, source="test", at=clock.now())  # all created at once
    engine.sync()
    login(engine, "a1")
    engine.tick()
    return engine, clock, tel, store


def _ring_out(engine, clock, tel, seconds=20):
    call = tel.placed[-1]
    clock.advance(seconds)
    engine.on_call_ended(call, CallOutcome.NO_ANSWER)
    engine.tick()


def test_the_next_number_is_dialled_at_the_contacts_next_turn():
    engine, clock, tel, store = _world()
    assert tel.numbers[tel.placed[0]] == "+4520000001"  # the contact's first number, first in the list
    _ring_out(engine, clock, tel)
    for _ in range(8):  # the contacts already queued when its number came free go first, then its turn
        if tel.numbers[tel.placed[-1]] == "+4520000002":
            break
        _ring_out(engine, clock, tel)
    from dialer_domain.rules.dialling import queue_target

    second = [tel.numbers[c] for c in tel.placed].index("+4520000002")
    assert second <= 1 + queue_target(1), [tel.numbers[c] for c in tel.placed]  # before, it waited behind all 30 fresh contacts
    dials = [e for e in events_of(store, DialAttempted) if e.number == "+4520000002"]
    assert dials[0].number_index == 1


def test_the_campaigns_delay_between_numbers_holds_the_next_number_back():
    engine, clock, tel, _store = _world(next_number_delay_seconds=300)
    first_end = None
    for _ in range(12):
        if first_end is None:
            first_end = clock.now() + timedelta(seconds=20)
        _ring_out(engine, clock, tel)
        clock.advance(30)
        engine.tick()
    numbers = [(tel.numbers[c], c) for c in tel.placed]
    assert "+4520000002" in [n for n, _ in numbers]
    at = next(e.timestamp for e in events_of(_store, DialAttempted) if e.number == "+4520000002")
    assert at >= first_end + timedelta(seconds=300)


def test_attempts_per_outcome_retire_a_number_after_so_many_busy_or_unanswered_calls():
    from dialer_domain.model.events import AttemptsExhausted, NumberSkipped

    engine, clock, tel, _desk, store = setup(DialMode.PROGRESSIVE, contacts=1, attempts_per_number=5, attempts_busy=2)
    login(engine, "a1")
    engine.tick()
    for _ in range(2):
        call = tel.placed[-1]
        clock.advance(5)
        engine.on_call_ended(call, CallOutcome.BUSY)
        clock.advance(601)  # the redial delay (600 s here)
        engine.tick()
    [skipped] = events_of(store, NumberSkipped)
    assert (skipped.reason, skipped.reason_code) == ("busy 2 times, the campaign's limit for a number", "outcome_limit")
    assert len(events_of(store, AttemptsExhausted)) == 1 and len(tel.placed) == 2  # its only number: no third dial, though 5 were allowed
    import pytest

    from dialer_domain.model.errors import InvalidValue
    from dialer_domain.model.values import CampaignSettings

    with pytest.raises(InvalidValue, match="attempts_no_answer must be positive"):
        CampaignSettings(skill="s", attempts_no_answer=0)
