"""Stable cause codes (issue 16): the dialler's own phrasings each have a code, a refusal is coded
after the rule that refused, the network's words are ``network``, and codes are never free text."""

from __future__ import annotations

from uuid import uuid4

import pytest

from dialer_domain.model.causes import NETWORK, OTHER, catalogue, cause_code
from dialer_domain.model.events import CallEnded, ContactReturnedToList
from dialer_domain.model.values import CallOutcome
from tests.unit.test_engine import T0


@pytest.mark.parametrize(
    ("event", "reason", "code"),
    [
        ("CallAbandoned", "no agent free within 2s", "abandoned_no_agent"),
        ("CallEnded", "no agent free within 2s", "abandoned_no_agent"),
        ("CallAbandoned", "contact hung up before an agent was free", "abandoned_contact_hung_up"),
        ("CallAbandoned", "answered, and no agent took the call before the restart: up (asked after the dialler restarted)", "abandoned_at_restart"),
        ("CallEnded", "busy (asked after the dialler restarted)", "settled_after_restart"),
        ("CallEnded", "the dialler restarted; what became of the call is unknown", "unknown_after_restart"),
        ("CallEnded", "answering machine detected", "machine_detected"),
        ("CallEnded", "the agent hung up", "agent_hung_up"),
        ("CallEnded", "cut at the maximum call duration", "max_duration"),
        ("CallEnded", "no answer within the maximum ring time", "ring_timeout"),
        ("CallEnded", "agent leg hung up before the maximum ring time", "agent_leg_hung_up"),
        ("CallEnded", "agent paused (break); cancelled before answer", "agent_paused"),
        ("CallEnded", "agent logged out", "agent_logged_out"),
        ("CallEnded", "the network reported completed before any answer", "network_before_answer"),
        ("CallEnded", "busy", NETWORK),
        ("CallEnded", "486 Busy Here", NETWORK),
        ("ContactReturnedToList", "campaign disabled", "campaign_disabled"),
        ("ContactReturnedToList", "campaign outside its hours", "campaign_closed"),
        ("ContactReturnedToList", "callee_local_hours: 21:00 in America/New_York; not_on_do_not_call: on internal", "refused_callee_local_hours"),
        ("ContactReturnedToList", "not_abandoned_recently: abandoned 2026-11-22T10:00", "refused_not_abandoned_recently"),
        ("NumberSkipped", "not_on_do_not_call: +4520000001 is on do-not-call list internal", "refused_not_on_do_not_call"),
        ("AttemptsExhausted", "no number left to dial: not_on_do_not_call: on internal", "no_number_left"),
        ("AttemptsExhausted", "6 attempts, the campaign's maximum per contact", "max_attempts_per_contact"),
        ("AttemptsExhausted", "every number has had its 3 attempts", "attempts_per_number"),
        ("AttemptsExhausted", "dials_left: 20 dials, the campaign's lifetime maximum", "refused_dials_left"),
        ("ContactWithdrawn", "not in the list replaced by march.csv", "withdrawn_by_import"),
        ("ContactWithdrawn", "somebody said so", OTHER),
        ("ContactReturnedToList", "busy: not a rule", OTHER),
    ],
)
def test_each_phrasing_has_its_code(event, reason, code):
    assert cause_code(event, reason) == code
    assert code in catalogue()


def test_an_event_is_coded_when_recorded_and_keeps_a_code_it_is_given():
    ended = CallEnded(
        originator_id=uuid4(),
        originator_version=4,
        timestamp=T0,
        call_id=uuid4(),
        outcome=CallOutcome.COMPLETED,
        reason="the agent hung up",
        counts_as_attempt=True,
        talk_seconds=30.0,
        next_dial_at=None,
    )
    assert ended.reason_code == "agent_hung_up"
    kept = ContactReturnedToList(originator_id=ended.originator_id, originator_version=5, timestamp=T0, reason="x", reason_code="campaign_closed")
    assert kept.reason_code == "campaign_closed"


def test_the_catalogue_names_every_code_in_snake_case_with_its_meaning():
    codes = catalogue()
    assert len(codes) > 25 and all(code.replace("_", "").isalpha() and code.islower() and meaning for code, meaning in codes.items())
