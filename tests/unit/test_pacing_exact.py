"""Predictive pacing's faster arithmetic (issue 18) makes the same decisions with the same figures
as the plain call-by-call loop it replaced, kept here as the reference."""

from __future__ import annotations

import copy
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer_domain.model.values import CampaignSettings, DialMode
from dialer_domain.rules import pacing, pacing_math
from dialer_domain.rules.abandon_cap import AbandonCap, AbandonWindow
from dialer_domain.rules.pacing import PacingSnapshot, decide
from dialer_domain.rules.pacing_estimates import GRID_STEP, PacingEstimator
from dialer_domain.rules.pacing_math import BIN_SECONDS, GRACE_SECONDS, MAX_BIN, answer_chances


def reference_predictive(
    settings: CampaignSettings, snap: PacingSnapshot, est: PacingEstimator, room: int, ease: float = 1.0
) -> tuple[int, str, dict[str, float]]:
    """``_predictive`` as it was before issue 18's work: every call's risk worked out in turn, each
    agent's chance of being free looked up one moment at a time."""
    est.tune(settings.target_abandon_rate)
    grid, weights, c_new = reference_answer_grid(est)
    suffix_h, suffix_all = reference_suffix_sums(est)
    wrap_mean = est.wrap.mean()
    mu_a = [float(snap.answered_waiting)] * len(grid)
    var_a = [0.0] * len(grid)
    steps = [int(t / BIN_SECONDS) + 1 for t in grid]
    for e in snap.dialling_elapsed:
        b0 = min(MAX_BIN, int(e / BIN_SECONDS))
        alive = suffix_all[b0]
        if alive <= 0:
            continue
        h0 = suffix_h[b0]
        for i, step in enumerate(steps):
            b1 = b0 + step
            p = (h0 - suffix_h[b1 if b1 <= MAX_BIN + 1 else MAX_BIN + 1]) / alive
            mu_a[i] += p
            var_a[i] += p * (1 - p)
    mu_f = [float(snap.ready_agents)] * len(grid)
    var_f = [0.0] * len(grid)
    wrap_h = [t + GRACE_SECONDS for t in grid]
    talk_h = [max(0.0, h - wrap_mean) for h in wrap_h]
    chances = [[est.wrap.p_end_within(e, h) for h in wrap_h] for e in snap.wrapup_elapsed]
    chances += [[est.talk.p_end_within(e, h) for h in talk_h] for e in snap.talking_elapsed]
    for i in range(len(grid)):
        for qs in chances:
            q = qs[i]
            mu_f[i] += q
            var_f[i] += q * (1 - q)
    allowance = min(0.5, settings.target_abandon_rate * est.gain) * ease
    mu = [a - f for a, f in zip(mu_a, mu_f, strict=True)]
    var = [a + f for a, f in zip(var_a, var_f, strict=True)]
    n = 0
    risk = 0.0
    while n < room and c_new[-1] > 0:
        risk = sum(w * p_normal_above(m, v, -0.5) for w, m, v in zip(weights, mu, var, strict=True))
        if risk > allowance:
            break
        n += 1
        for i, c in enumerate(c_new):
            mu[i] += c
            var[i] += c * (1 - c)
    estimates = {
        "p_human": round(reference_p_human(est), 4),
        "expected_answers_25s": round(mu_a[-1], 3),
        "expected_free_agents_27s": round(mu_f[-1], 3),
        "marginal_abandon_risk": round(risk, 5),
        "allowance": round(allowance, 5),
        "gain": round(est.gain, 4),
        "measured_abandon_rate": round(est.abandon_rate, 5),
        "mean_talk_s": round(est.talk.mean(), 1),
        "mean_wrap_s": round(wrap_mean, 1),
    }
    reason = (
        f"predictive: {mu_a[-1]:.2f} answers expected within {grid[-1]:.0f}s against {mu_f[-1]:.2f} agents free; "
        f"next call's abandon risk {risk:.4f} vs allowance {allowance:.4f}"
    )
    return n, reason, estimates


def reference_suffix_sums(est: PacingEstimator) -> tuple[list[float], list[float]]:
    """Human answers and all outcomes at or after each bin, summed bin by bin (as before issue 18)."""
    n = MAX_BIN + 1
    h = [0.0] * (n + 1)
    a = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        h[i] = h[i + 1] + est.human_bins[i]
        a[i] = a[i + 1] + est.human_bins[i] + est.ended_bins[i]
    return h, a


def reference_chances(b0: int, steps: list[int], suffix_h: list[float], suffix_all: list[float]) -> list[tuple[float, float]]:
    alive = suffix_all[b0]
    if alive <= 0:
        return []
    out = []
    for step in steps:
        b1 = b0 + step
        p = (suffix_h[b0] - suffix_h[b1 if b1 <= MAX_BIN + 1 else MAX_BIN + 1]) / alive
        out.append((p, p * (1 - p)))
    return out


def reference_p_human(est: PacingEstimator) -> float:
    h = sum(est.human_bins)
    total = h + sum(est.ended_bins)
    return h / total if total else 0.0


def reference_answer_grid(est: PacingEstimator) -> tuple[list[float], list[float], list[float]]:
    """The answer grid, its weights and P(human answer by each moment), walked bin by bin (as before
    issue 18)."""
    total = sum(est.human_bins) + sum(est.ended_bins)
    last = max((i for i, c in enumerate(est.human_bins) if c > 0), default=25)
    grid = [float(t) for t in range(GRID_STEP, last + GRID_STEP + 1, GRID_STEP)]
    cum = []
    acc = 0.0
    b = 0
    for t in grid:
        while b <= MAX_BIN and b * BIN_SECONDS < t:
            acc += est.human_bins[b]
            b += 1
        cum.append(acc / total if total else 0.0)
    final = cum[-1] if cum and cum[-1] > 0 else 1.0
    weights = [(c - p) / final for c, p in zip(cum, [0.0, *cum[:-1]], strict=True)]
    return grid, weights, cum


def p_normal_above(mu: float, var: float, x: float) -> float:
    if var <= 1e-12:
        return 1.0 if mu > x else 0.0
    z = (x - mu) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


SETTINGS = CampaignSettings(skill="sales")


@st.composite
def situations(draw: st.DrawFn) -> tuple[PacingEstimator, PacingSnapshot, int, float]:
    est = PacingEstimator()
    for _ in range(draw(st.integers(0, 300))):
        est.record_dial_outcome(draw(st.booleans()), draw(st.floats(0, 95)))
    for x in draw(st.lists(st.floats(1, 900), max_size=40)):
        est.talk.add(x)
    for x in draw(st.lists(st.floats(1, 60), max_size=20)):
        est.wrap.add(x)
    for _ in range(draw(st.integers(0, 80))):
        est.record_answer(draw(st.booleans()) and draw(st.booleans()))
    big = draw(st.booleans())
    agents = draw(st.integers(1, 1000 if big else 30))
    ready = draw(st.integers(0, agents))
    rest = agents - ready
    talking = draw(st.integers(0, rest))
    elapsed = st.floats(0, 600)
    snap = PacingSnapshot(
        ready_agents=ready,
        wrapup_elapsed=tuple(draw(elapsed) for _ in range(rest - talking)),
        talking_elapsed=tuple(draw(elapsed) for _ in range(talking)),
        dialling_elapsed=tuple(draw(st.floats(0, 100)) for _ in range(draw(st.integers(0, 3 * agents)))),
        answered_waiting=draw(st.integers(0, 5)),
        logged_in=agents,
        queued_contacts=10**6,
    )
    room = draw(st.integers(-2, 4 * agents + 4))
    ease = draw(st.sampled_from([1.0, 0.5, 0.01, draw(st.floats(0, 1))]))
    return est, snap, room, ease


def predictive(settings, snap, est, room, ease=1.0):  # type: ignore[no-untyped-def]
    """``_predictive``'s number with its explanation worked out."""
    n, explain = pacing._predictive(settings, snap, est, room, ease)
    return (n, *explain())


@settings(max_examples=300, deadline=None)
@given(situations())
def test_predictive_decides_exactly_as_the_call_by_call_loop(situation: tuple[PacingEstimator, PacingSnapshot, int, float]) -> None:
    est, snap, room, ease = situation
    twin = copy.deepcopy(est)
    assert predictive(SETTINGS, snap, est, room, ease) == reference_predictive(SETTINGS, snap, twin, room, ease)


def test_a_long_run_of_calls_is_added_in_a_few_risk_evaluations() -> None:
    # 1,000 agents who will all be free (a cold start's estimates): hundreds of calls pass.
    est = PacingEstimator()
    snap = PacingSnapshot(
        ready_agents=1000, wrapup_elapsed=(), talking_elapsed=(), dialling_elapsed=(), answered_waiting=0, logged_in=1000, queued_contacts=10**6
    )
    n, reason, estimates = predictive(SETTINGS, snap, copy.deepcopy(est), 4004)
    assert (n, reason, estimates) == reference_predictive(SETTINGS, snap, copy.deepcopy(est), 4004)
    # the same sums again, counting the risks they work out
    twin = copy.deepcopy(est)
    twin.tune(SETTINGS.target_abandon_rate)
    answers = twin.answers()
    allowance = min(0.5, SETTINGS.target_abandon_rate * twin.gain)
    wrap = (twin.wrap.sorted, twin.wrap.mean())
    placed, _, evaluations, _, _ = pacing_math.predict(answers.arrays, answers.known, wrap, twin.talk.sorted, 0, 1000, (), (), (), 4004, allowance)
    assert placed == n
    assert n > 1000
    assert evaluations < 4 * math.log2(n) + 60  # stepping would evaluate n + 1 times


def test_across_team_sizes_and_loads_the_leaps_land_where_stepping_stops() -> None:
    # Long runs that stop inside a leap's reach: every stop point from a few calls to thousands,
    # for a cold estimator and for one that has learnt a low answer rate and long talks.
    learnt = PacingEstimator()
    for i in range(600):
        learnt.record_dial_outcome(i % 6 == 0, float(3 + i % 20))
    for i in range(400):
        learnt.talk.add(30.0 + (i * 37) % 400)
    for cold in (True, False):
        for ready in range(0, 1001, 17):
            for in_flight in (0, ready // 2, 2 * ready):
                snap = PacingSnapshot(
                    ready_agents=ready,
                    wrapup_elapsed=tuple(float(i % 30) for i in range(ready // 10)),
                    talking_elapsed=tuple(float((i * 13) % 500) for i in range(1000 - ready)),
                    dialling_elapsed=tuple(float((i * 7) % 40) for i in range(in_flight)),
                    answered_waiting=ready % 3,
                    logged_in=1000,
                    queued_contacts=10**6,
                )
                base = PacingEstimator() if cold else learnt
                room = 4004 - in_flight
                got = predictive(SETTINGS, snap, copy.deepcopy(base), room)
                assert got == reference_predictive(SETTINGS, snap, copy.deepcopy(base), room), (cold, ready, in_flight)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from(["talk", "wrap"]), st.floats(0, 400)),
            st.tuples(st.sampled_from(["human", "ended"]), st.floats(0, 120)),
            st.tuples(st.just("undo"), st.just(0.0)),
        ),
        max_size=80,
    ),
    st.integers(0, MAX_BIN),
)
def test_what_the_estimator_keeps_equals_what_it_would_work_out_afresh(ops, b0) -> None:  # type: ignore[no-untyped-def]
    """The window means, the answer share and each elapsed second's answer chances are kept until
    the measurements change (issue 18): asked between every change and undo, they equal a fresh
    working-out from the samples."""
    est = PacingEstimator()
    est.talk.size = est.wrap.size = 7  # so samples are evicted too
    undos = []
    for kind, x in ops:
        if kind in ("talk", "wrap"):
            undos.append(getattr(est, kind).add(x))
        elif kind in ("human", "ended"):
            undos.append(est.record_dial_outcome(kind == "human", x))
        elif undos:
            undos.pop()()
        for w in (est.talk, est.wrap):
            assert w.mean() == (sum(w.sorted) / len(w.sorted) if w.sorted else 0.0)
        assert est.p_human() == reference_p_human(est)
        assert est.answer_grid() == reference_answer_grid(est)
        assert est.suffix_sums() == reference_suffix_sums(est)
        grid = est.answer_grid()[0]
        suffix_h, suffix_all = reference_suffix_sums(est)
        steps = [int(t / BIN_SECONDS) + 1 for t in grid]
        assert est.answer_chances(b0) == answer_chances(b0, steps, suffix_h, suffix_all) == reference_chances(b0, steps, suffix_h, suffix_all)


@settings(max_examples=200, deadline=None)
@given(situations(), st.sampled_from(list(DialMode)), st.integers(0, 60), st.booleans())
def test_a_decision_explained_only_when_it_places_calls_is_the_same_decision(situation, mode, abandoned, capped) -> None:  # type: ignore[no-untyped-def]
    """``decide(explain=False)``, as the dialler asks: the same number of calls, and when it places
    any, the same reason and estimates; when it places none, neither is worked out."""
    est, snap, _room, _ease = situation
    cap = AbandonCap(0.03, (AbandonWindow("24h", 1000, abandoned),)) if capped else None
    full = decide(mode, SETTINGS, snap, copy.deepcopy(est), cap=cap)
    quick = decide(mode, SETTINGS, snap, copy.deepcopy(est), cap=cap, explain=False)
    assert quick.calls == full.calls
    if full.calls > 0 or mode.agent_first:
        assert (quick.reason, quick.estimates) == (full.reason, full.estimates)
    else:
        assert full.reason and (quick.reason, quick.estimates) == ("", {})
