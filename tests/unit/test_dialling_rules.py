"""The dialler's rules for feeding its queue and sharing agents, with no engine around them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dialer_domain.rules.dialling import first_waiting_answer, progressive_excess, queue_target

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_a_campaign_keeps_eight_contacts_queued_per_logged_in_agent_and_at_least_ten():
    assert [queue_target(n) for n in (0, 1, 2, 5)] == [0, 10, 16, 40]


def test_a_freed_agent_takes_the_higher_priority_campaigns_answer_then_the_oldest():
    waiting = [("low-old", 3, T0), ("high-new", 9, T0 + timedelta(seconds=2)), ("high-old", 9, T0 + timedelta(seconds=1))]
    assert first_waiting_answer(waiting) == "high-old"
    assert first_waiting_answer([]) is None


def test_progressive_cancels_the_youngest_calls_beyond_one_per_ready_agent():
    ringing = ["oldest", "middle", "youngest"]
    assert progressive_excess(ringing, answers_waiting=0, ready_agents=3) == []
    assert progressive_excess(ringing, answers_waiting=0, ready_agents=2) == ["youngest"]
    assert progressive_excess(ringing, answers_waiting=1, ready_agents=2) == ["youngest", "middle"]
    assert progressive_excess(ringing, answers_waiting=5, ready_agents=0) == ["youngest", "middle", "oldest"]


def test_r12_a_callback_dialled_within_its_window_is_kept_on_time_and_later_is_late():
    from dialer_domain.rules.callbacks import CallbackKept, callback_deadline, callback_kept

    deadline = callback_deadline(T0, 300)
    assert deadline == T0 + timedelta(minutes=5)
    assert callback_kept(deadline, T0 + timedelta(minutes=5)) is CallbackKept.ON_TIME
    assert callback_kept(deadline, T0 + timedelta(minutes=5, seconds=1)) is CallbackKept.LATE
