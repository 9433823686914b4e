"""The dialler's timers (ADR 0032): a cancelled timer is never handed out and never named as the
next one due; a timer set after the cancel is; a step's changes, cancels included, are taken back
with it. Checked against a list model over random histories, across the heap's sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer_domain.service_layer.timers import Timers
from dialer_domain.service_layer.undo import UndoLog

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
SUBJECTS = ["a", "b", "c"]
KINDS = ["ring", "wrapup"]

op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 50), st.sampled_from(KINDS), st.sampled_from(SUBJECTS)),
    st.tuples(st.just("cancel"), st.just(0), st.sampled_from(KINDS), st.sampled_from(SUBJECTS)),
    st.tuples(st.just("due"), st.integers(0, 10), st.just(""), st.just("")),
    st.tuples(st.just("next"), st.just(0), st.just(""), st.just("")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(op, max_size=8), st.booleans()), max_size=60))
def test_timers_match_a_list_model_through_cancels_sweeps_and_undone_steps(steps):
    undo = UndoLog()
    timers = Timers(undo)
    model: list[tuple[float, int, str, str]] = []  # (at, order, kind, subject), live timers only
    order = 0
    now = 0.0
    for ops, keep in steps:
        undo.begin()
        saved = (list(model), order, now)
        handed: list[tuple[str, str]] = []
        for name, n, kind, subject in ops:
            if name == "add":
                order += 1
                timers.add(T0 + timedelta(seconds=now + n), kind, subject)
                model.append((now + n, order, kind, subject))
            elif name == "cancel":
                timers.cancel(kind, subject)
                model = [t for t in model if (t[2], t[3]) != (kind, subject)]
            elif name == "due":
                now += n
                got = [(k, s) for k, s, _ in timers.due(T0 + timedelta(seconds=now))]
                due = sorted(t for t in model if t[0] <= now)
                model = [t for t in model if t[0] > now]
                assert got == [(t[2], t[3]) for t in due]
                handed += got
            else:
                first = min(model, default=None)
                assert timers.next_due(UTC) == (T0 + timedelta(seconds=first[0]) if first else None)
        if keep:
            undo.end()
        else:
            undo.undo()
            model, order, now = saved
        first = min(model, default=None)
        assert timers.next_due(UTC) == (T0 + timedelta(seconds=first[0]) if first else None)
        assert [(t[0], t[2], t[3]) for t in timers.snapshot()] == [(T0.timestamp() + t[0], t[2], t[3]) for t in sorted(model)]


def test_a_timer_set_after_a_cancel_for_the_same_subject_still_comes_due():
    timers = Timers(UndoLog())
    timers.add(T0 + timedelta(seconds=10), "wrapup", "a1")
    timers.cancel("wrapup", "a1")
    timers.add(T0 + timedelta(seconds=20), "wrapup", "a1")
    assert timers.next_due(UTC) == T0 + timedelta(seconds=20)
    assert list(timers.due(T0 + timedelta(seconds=30))) == [("wrapup", "a1", None)]


def test_cancelled_timers_are_swept_so_the_marks_stay_bounded():
    timers = Timers(UndoLog())
    for i in range(1000):
        timers.add(T0 + timedelta(seconds=i), "ring", f"call-{i}")
        timers.cancel("ring", f"call-{i}")
    assert timers.next_due(UTC) is None
    assert len(timers._gone) <= 129 and len(timers._heap) <= 129
