"""A restart reconciles the calls an earlier process left in flight through the telephony port
(issue 15): each call the network named is asked about by that name and settled as the network
says; a call it cannot tell about is ended with a recorded reason. The earlier process is a
dialler on the same store; the restart is a new dialler with a new fake telephony."""

from __future__ import annotations

import pytest

from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.events import AgentPhoneRegistered, CallAbandoned, CallEnded, CallPlaced, CallProgressed, DialAttempted
from dialer_domain.model.identities import seeded_ids
from dialer_domain.model.values import AgentState, CallOutcome, ContactState, DialMode
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.ports import CallFate, CallReport, ReportKind
from tests.unit.test_engine import RecordingDesktop, RecordingTelephony, events_of, login, setup

K = ReportKind


def name(engine, clock, call_id, network_call_id):
    engine.on_report(CallReport(K.PLACED, clock.now(), call_id=call_id, network_call_id=network_call_id))


def restart(store, clock, fates: dict[str, CallFate] | None = None):
    tel = RecordingTelephony()
    tel.fates.update(fates or {})
    engine = Dialler(store, tel, clock, seeded_ids(8), desktop=RecordingDesktop())
    engine.sync()
    ended = engine.recover()
    return engine, tel, ended


def ends(store, call_id):
    return [e for e in events_of(store, CallEnded) if e.call_id == call_id]


def one_call(mode=DialMode.POWER, **settings):
    engine, clock, tel, _, store = setup(mode, contacts=1, **settings)
    login(engine, "a1")
    engine.tick()
    assert len(tel.placed) == 1
    return engine, clock, store, tel.placed[0]


def test_the_network_name_of_a_call_is_recorded_once_on_its_contact():
    engine, clock, store, call = one_call()
    name(engine, clock, call, "CA1")
    name(engine, clock, call, "CA1")  # a repeated report
    placed = events_of(store, CallPlaced)
    assert [(e.call_id, e.network_call_id) for e in placed] == [(call, "CA1")]
    dial = events_of(store, DialAttempted)[0]
    assert placed[0].originator_id == dial.originator_id  # on the contact's stream, beside the dial


def test_a_call_that_ended_while_the_dialler_was_down_is_settled_as_the_network_says():
    engine, clock, store, call = one_call()
    name(engine, clock, call, "CA1")
    clock.advance(30)
    engine2, tel2, ended = restart(store, clock, {"CA1": CallFate(answer=None, end=K.BUSY, detail="twilio: busy")})
    assert tel2.asked == [(call, "CA1")] and ended == 1
    [end] = ends(store, call)
    assert end.outcome is CallOutcome.BUSY and end.counts_as_attempt
    assert end.reason == "twilio: busy (asked after the dialler restarted)"
    assert tel2.hung_up == []  # it was over already
    assert engine2.queue.in_progress() == [] and call not in engine2.calls


def test_a_conversation_still_going_on_is_kept_and_ends_as_any_call_does():
    engine, clock, store, call = one_call()
    name(engine, clock, call, "CA1")
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    assert engine.agents["a1"].state is AgentState.TALKING
    clock.advance(20)
    up = CallFate(answer=K.ANSWERED_HUMAN, end=None, detail="twilio: in-progress")
    engine2, tel2, ended = restart(store, clock, {"CA1": up})
    assert ended == 0 and ends(store, call) == [] and tel2.hung_up == []
    assert call in engine2.calls and engine2.agents["a1"].state is AgentState.TALKING
    clock.advance(60)
    engine2.on_report(CallReport(K.COMPLETED, clock.now(), call_id=call, detail="twilio: completed"))
    [end] = ends(store, call)
    assert end.outcome is CallOutcome.COMPLETED and end.talk_seconds == 80
    assert engine2.agents["a1"].state is AgentState.WRAP_UP


def test_a_kept_conversation_is_still_cut_at_the_maximum_duration():
    engine, clock, store, call = one_call(max_call_seconds=300)
    name(engine, clock, call, "CA1")
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    engine2, tel2, _ = restart(store, clock, {"CA1": CallFate(answer=K.ANSWERED_HUMAN, end=None, detail="twilio: in-progress")})
    clock.advance(301)
    engine2.tick()
    [end] = ends(store, call)
    assert end.reason == "cut at the maximum call duration" and (call, "maximum call duration reached") in tel2.hung_up


def test_an_answer_the_log_missed_is_recorded_then_abandoned_with_the_message():
    engine, clock, store, call = one_call()
    engine.pause("a1", "break")  # nobody free when the contact answers
    name(engine, clock, call, "CA1")
    clock.advance(10)
    up = CallFate(answer=K.ANSWERED_HUMAN, end=None, detail="twilio: in-progress")
    _, tel2, ended = restart(store, clock, {"CA1": up})
    assert ended == 1
    answers = [e for e in events_of(store, CallProgressed) if e.call_id == call]
    assert [e.progress for e in answers] == [CallOutcome.ANSWERED_HUMAN]
    [abandon] = [e for e in events_of(store, CallAbandoned) if e.call_id == call]
    assert "no agent took the call before the restart" in abandon.reason
    assert [c for c, _ in tel2.played] == [call]  # R17: the abandoned-call message, then a hang-up
    assert ends(store, call)[0].outcome is CallOutcome.ABANDONED


def test_a_call_still_ringing_is_hung_up_and_cancelled():
    engine, clock, store, call = one_call()
    name(engine, clock, call, "CA1")
    _, tel2, _ = restart(store, clock, {"CA1": CallFate(answer=None, end=None, detail="twilio: ringing")})
    [end] = ends(store, call)
    assert end.outcome is CallOutcome.CANCELLED and not end.counts_as_attempt
    assert [c for c, _ in tel2.hung_up] == [call]


def test_a_machine_that_answered_while_the_dialler_was_down_counts_as_a_machine():
    engine, clock, store, call = one_call()
    name(engine, clock, call, "CA1")
    fate = CallFate(answer=K.ANSWERED_MACHINE, end=K.COMPLETED, detail="twilio: completed, answered by machine_start")
    restart(store, clock, {"CA1": fate})
    [end] = ends(store, call)
    assert end.outcome is CallOutcome.ANSWERED_MACHINE


def test_a_call_the_network_cannot_tell_about_is_ended_with_the_recorded_reason():
    engine, clock, store, call = one_call()
    name(engine, clock, call, "sip-dialog-1")  # named, but the adapter cannot know (SIP, the simulated world)
    engine2, tel2, ended = restart(store, clock)
    assert tel2.asked == [(call, "sip-dialog-1")] and ended == 1
    [end] = ends(store, call)
    assert end.outcome is CallOutcome.FAILED and "what became of the call is unknown" in end.reason
    assert engine2.contact(end.originator_id).state is not ContactState.DIALLING


def test_a_call_never_named_is_not_asked_about():
    _engine, clock, store, call = one_call()
    _, tel2, ended = restart(store, clock)
    assert tel2.asked == [] and ended == 1
    assert ends(store, call)[0].outcome is CallOutcome.FAILED


def test_an_agent_who_logged_in_with_a_phone_has_it_called_again_after_a_restart():
    engine, clock, _, _, store = setup(DialMode.POWER, contacts=1)
    engine.log_in("a1", skills=("sales",), phone="+4520000099")
    engine.log_in("a2", skills=("sales",))  # no phone: no leg to hold
    engine.log_in("a3", skills=("sales",), phone="sip:3@pbx.example")
    engine.log_out("a3")
    phones = [(e.originator_id, e.phone) for e in events_of(store, AgentPhoneRegistered)]
    assert [p for _, p in phones] == ["+4520000099", "sip:3@pbx.example"]
    engine2, tel2, _ = restart(store, clock)
    assert tel2.legs == {"a1": "+4520000099"}  # a3 logged out; a2 had no phone
    assert engine2.agents["a1"].phone == "+4520000099" and engine2.agents["a3"].phone == ""


def test_a_blank_or_control_character_phone_is_refused_and_nothing_is_recorded():
    engine, _, tel, _, store = setup(DialMode.POWER, contacts=1)
    for bad in ("  ", "+45\x0020"):
        with pytest.raises(InvalidValue, match="phone"):
            engine.log_in("a1", skills=("sales",), phone=bad)
    assert events_of(store, AgentPhoneRegistered) == [] and tel.legs == {}
    assert "a1" not in engine.agents or not engine.agents["a1"].logged_in
