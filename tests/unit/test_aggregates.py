"""Domain rules of the three aggregates, pure and fast."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from dialer_domain.model.agent import AgentSession
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import InvalidValue, NotAllowed
from dialer_domain.model.events import AttemptsExhausted, CallEnded
from dialer_domain.model.values import AgentState, CallOutcome, CampaignSettings, CampaignStatus, ContactData, ContactState, DialMode, PhoneNumber

S = CampaignSettings(skill="sales", attempts_per_number=2, max_attempts_per_contact=3, min_redial_seconds=600, caller_id_number="+4570000000")


def make_campaign(t0, **kw):
    return Campaign.create(uuid4(), name="Win-back", manager="ann", dial_mode=DialMode.PROGRESSIVE, settings=S, at=t0, **kw)


def make_contact(t0, numbers=("+4520000001",)):
    return ContactAttempt.import_(
        uuid4(), campaign_id=uuid4(), key="k1", numbers=tuple(PhoneNumber(n) for n in numbers), data=ContactData(name="Bo"), at=t0
    )


def replayed(agg):
    events = list(agg.pending_events)
    return type(agg).replay(agg.id, events)


# ---------------------------------------------------------------- Campaign


def test_campaign_priority_must_be_1_to_10(t0):
    with pytest.raises(InvalidValue, match=r"1\.\.10"):
        make_campaign(t0, priority=11)
    c = make_campaign(t0, priority=10)
    with pytest.raises(InvalidValue):
        c.change_priority(0, t0, "test")


def test_campaign_replay_gives_an_equal_object(t0):
    c = make_campaign(t0)
    c.change_priority(8, t0, "test")
    c.change_dial_mode(DialMode.PREDICTIVE, t0, "test")
    c.change_status(CampaignStatus.ENABLED, t0, by="ann")
    assert replayed(c) == c


def test_a_campaign_without_a_caller_id_cannot_be_switched_on_and_a_ring_under_15_s_is_refused(t0):
    import attrs

    c = Campaign.create(uuid4(), name="No id", manager="ann", dial_mode=DialMode.POWER, settings=CampaignSettings(skill="s"), at=t0)
    with pytest.raises(NotAllowed, match="no caller ID number"):
        c.change_status(CampaignStatus.ENABLED, t0, by="ann")
    c.change_status(CampaignStatus.DISABLED, t0, by="ann")  # switching off is always allowed
    with pytest.raises(InvalidValue, match="max_ring_seconds must be at least 15"):
        make_campaign(t0).change_settings(attrs.evolve(S, max_ring_seconds=14), t0, "test")
    with pytest.raises(InvalidValue, match="at least 15"):
        Campaign.create(uuid4(), name="Short", manager="ann", dial_mode=DialMode.POWER, settings=attrs.evolve(S, max_ring_seconds=10), at=t0)
    make_campaign(t0).change_settings(attrs.evolve(S, max_ring_seconds=15), t0, "test")


def test_automatic_needs_opening_hours(t0):
    c = make_campaign(t0)
    with pytest.raises(NotAllowed, match="no opening hours"):
        c.change_status(CampaignStatus.AUTOMATIC, t0, by="ann")


def test_settings_reject_bad_values():
    with pytest.raises(InvalidValue, match="target_abandon_rate"):
        CampaignSettings(skill="s", target_abandon_rate=1.5)
    with pytest.raises(InvalidValue, match=r"E\.164"):
        CampaignSettings(skill="s", caller_id_number="12345")
    with pytest.raises(InvalidValue, match="keep the defaults"):
        CampaignSettings(skill="s", dispositions=("sale",))
    with pytest.raises(InvalidValue, match=r"E\.164"):
        PhoneNumber("0045 20 00 00 01")


# ---------------------------------------------------------------- ContactAttempt


def dial(contact, t, settings=S):
    contact.dial(call_id=uuid4(), settings=settings, dial_mode=DialMode.PROGRESSIVE, agent_id=None, decision_id=None, checks=(), at=t)
    return contact.current_call.call_id


def test_a_contact_is_dialled_only_from_the_queue(t0):
    c = make_contact(t0)
    with pytest.raises(NotAllowed, match="only a queued or offered contact"):
        dial(c, t0)
    c.queue(t0)
    dial(c, t0)
    assert c.state is ContactState.DIALLING


def test_no_answer_counts_an_attempt_and_waits_the_redial_delay(t0):
    c = make_contact(t0)
    c.queue(t0)
    call = dial(c, t0)
    ended = c.end_call(call, CallOutcome.NO_ANSWER, "no answer", S, t0 + timedelta(seconds=25))
    assert ended.counts_as_attempt and c.attempts == 1
    assert ended.next_dial_at == t0 + timedelta(seconds=25 + 600)
    with pytest.raises(NotAllowed, match="not due"):
        c.queue(t0 + timedelta(seconds=60))


def test_the_next_number_is_dialled_when_the_first_is_not_answered_r8(t0):
    c = make_contact(t0, ("+4520000001", "+4520000002"))
    c.queue(t0)
    call = dial(c, t0)
    assert c.current_call.number_index == 0
    ended = c.end_call(call, CallOutcome.BUSY, "busy", S, t0 + timedelta(seconds=3))
    assert ended.next_dial_at == t0 + timedelta(seconds=3)  # the other number is free at once
    c.queue(ended.next_dial_at)
    dial(c, ended.next_dial_at)
    assert c.current_call.number_index == 1


def test_attempts_run_out_per_number_and_per_contact_r14(t0):
    c = make_contact(t0)
    t = t0
    for _ in range(2):
        c.queue(t)
        call = dial(c, t)
        ended = c.end_call(call, CallOutcome.NO_ANSWER, "no answer", S, t)
        t = ended.next_dial_at or t
    assert c.state is ContactState.EXHAUSTED
    assert isinstance(c.pending_events[-1], AttemptsExhausted)
    assert replayed(c) == c


def test_an_agent_leg_hang_up_is_not_an_attempt_r6(t0):
    c = make_contact(t0)
    c.queue(t0)
    call = dial(c, t0)
    ended = c.end_call(call, CallOutcome.CANCELLED, "agent leg hung up", S, t0 + timedelta(seconds=5))
    assert not ended.counts_as_attempt and c.attempts == 0
    assert ended.next_dial_at == t0 + timedelta(seconds=5)


def test_a_human_answer_must_be_connected_or_abandoned(t0):
    c = make_contact(t0)
    c.queue(t0)
    call = dial(c, t0)
    c.progress(call, CallOutcome.ANSWERED_HUMAN, t0 + timedelta(seconds=9))
    with pytest.raises(NotAllowed, match="neither connected nor abandoned"):
        c.end_call(call, CallOutcome.COMPLETED, "?", S, t0 + timedelta(seconds=10))
    c.abandon(call, "no agent", t0 + timedelta(seconds=11))
    ended = c.end_call(call, CallOutcome.COMPLETED, "hung up", S, t0 + timedelta(seconds=11))
    assert ended.outcome is CallOutcome.ABANDONED and ended.counts_as_attempt


def test_a_connected_call_completes_the_contact_and_takes_a_disposition(t0):
    c = make_contact(t0)
    c.queue(t0)
    call = dial(c, t0)
    c.progress(call, CallOutcome.ANSWERED_HUMAN, t0 + timedelta(seconds=9))
    c.connect(call, "a1", t0 + timedelta(seconds=10))
    ended = c.end_call(call, CallOutcome.COMPLETED, "bye", S, t0 + timedelta(seconds=130))
    assert ended.talk_seconds == 120 and c.state is ContactState.DONE
    with pytest.raises(InvalidValue, match="not one of this campaign's codes"):
        c.record_disposition(call, "maybe", agent_id="a1", note="", settings=S, at=t0)
    c.record_disposition(call, "sale", agent_id="a1", note="", settings=S, at=t0 + timedelta(seconds=140))
    assert c.disposition == "sale"
    assert replayed(c) == c


def test_callbacks_must_be_in_the_future_and_start_a_new_round(t0):
    c = make_contact(t0)
    with pytest.raises(InvalidValue, match="not in the future"):
        c.schedule_callback(t0 - timedelta(minutes=1), agent_id=None, by="x", now=t0)
    c.queue(t0)
    call = dial(c, t0)
    c.end_call(call, CallOutcome.NO_ANSWER, "", S, t0)
    c.schedule_callback(t0 + timedelta(hours=1), agent_id="a1", by="agent", now=t0)
    assert c.state is ContactState.CALLBACK_SCHEDULED and c.attempts == 0 and c.due_at() == t0 + timedelta(hours=1)


def test_withdrawing_leaves_a_call_in_progress_alone(t0):
    c = make_contact(t0)
    c.queue(t0)
    dial(c, t0)
    with pytest.raises(NotAllowed, match="in a call"):
        c.withdraw("replace import", t0)


def test_a_contact_needs_distinct_numbers(t0):
    with pytest.raises(InvalidValue, match="twice"):
        make_contact(t0, ("+4520000001", "+4520000001"))


# ---------------------------------------------------------------- AgentSession


def logged_in(t0):
    a = AgentSession(id=uuid4())
    a.log_in("a1", name="Ann", skills=("sales",), at=t0)
    return a


def test_an_agent_logs_in_paused_and_becomes_ready(t0):
    a = logged_in(t0)
    assert a.state is AgentState.PAUSED and a.pause_reason == "not_ready"
    a.ready(t0 + timedelta(seconds=5))
    assert a.state is AgentState.READY
    assert a.seconds_in["paused"] == 5


def test_a_talking_agent_cannot_be_readied_paused_or_logged_out(t0):
    a = logged_in(t0)
    a.ready(t0)
    a.connect(call_id=uuid4(), campaign_id=uuid4(), contact_id=uuid4(), at=t0)
    with pytest.raises(NotAllowed, match="talking"):
        a.ready(t0)
    with pytest.raises(NotAllowed, match="talking"):
        a.pause("break", t0)
    with pytest.raises(NotAllowed, match="talking"):
        a.log_out(t0)


def test_wrap_up_is_extendable_and_counted(t0):
    a = logged_in(t0)
    a.ready(t0)
    call = uuid4()
    a.connect(call_id=call, campaign_id=uuid4(), contact_id=uuid4(), at=t0)
    a.start_wrapup(call, 15, t0 + timedelta(seconds=100))
    a.extend_wrapup(30, t0 + timedelta(seconds=110))
    assert a.wrapup_until == t0 + timedelta(seconds=145)
    a.ready(t0 + timedelta(seconds=140))
    assert a.seconds_in["talking"] == 100 and a.seconds_in["wrap_up"] == 40
    assert replayed(a) == a


def test_pause_reasons_are_checked(t0):
    a = logged_in(t0)
    with pytest.raises(InvalidValue, match="pause reason"):
        a.pause("nap", t0)
    a.pause("training", t0, note="new product")
    assert a.pause_reason == "training"


def test_an_agent_needs_a_skill(t0):
    with pytest.raises(InvalidValue, match="no skill"):
        AgentSession(id=uuid4()).log_in("a1", name="Ann", skills=(), at=t0)


def test_events_are_immutable(t0):
    c = make_contact(t0)
    ev = c.pending_events[0]
    with pytest.raises(AttributeError):
        ev.key = "other"  # type: ignore[misc]
    assert not isinstance(ev, CallEnded)
