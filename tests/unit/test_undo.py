"""What an engine step changes in memory can be put back exactly (the step is undone when the
store refuses its events, then run again on fresh aggregates)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dialer_domain.rules.pacing_estimates import PacingEstimator
from dialer_domain.service_layer.undo import UndoLog


def state(e: PacingEstimator):
    return (list(e.human_bins), list(e.ended_bins), list(e._outcomes), list(e.talk.fifo), list(e.talk.sorted), list(e.wrap.sorted), e.gain, e.humans)


@given(
    before=st.lists(st.tuples(st.booleans(), st.floats(0, 120)), max_size=60),
    step=st.lists(
        st.one_of(
            st.tuples(st.just("dial"), st.booleans(), st.floats(0, 120)),
            st.tuples(st.just("talk"), st.floats(0, 900)),
            st.tuples(st.just("answer"), st.booleans()),
        ),
        max_size=30,
    ),
)
def test_a_steps_measurements_are_taken_back_exactly_even_past_the_windows(before, step):
    est = PacingEstimator(window=25)
    est.talk.size = 7  # small windows: the step evicts old samples
    for human, seconds in before:
        est.record_dial_outcome(human, seconds)
    expected = state(est)
    log = UndoLog()
    log.begin()
    log.keep_once("scalars", est.scalars)
    for kind, *args in step:
        if kind == "dial":
            log.add(est.record_dial_outcome(args[0], args[1]))
        elif kind == "talk":
            log.add(est.talk.add(args[0]))
        else:
            est.record_answer(abandoned=args[0])
            est.tune(0.03)
    log.undo()
    assert state(est) == expected


def test_an_undo_log_puts_back_mappings_and_fields_newest_first():
    class Call:
        connected = False

    calls: dict[str, object] = {"a": 1}
    call = Call()
    log = UndoLog()
    log.begin()
    log.put(calls, "b", 2)
    log.put(calls, "a", 3)
    log.pop(calls, "b")
    log.set(call, connected=True)
    assert calls == {"a": 3} and call.connected
    log.undo()
    assert calls == {"a": 1} and call.connected is False
    log.put(calls, "c", 4)  # outside a step: simply done
    log.undo()
    assert calls == {"a": 1, "c": 4}
