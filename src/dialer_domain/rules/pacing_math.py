"""Predictive pacing's arithmetic (R2, ADR 0004): the sums one decision makes, as plain functions of
lists and numbers. ``rules.pacing`` and ``rules.pacing_estimates`` keep the state and the reasons.

This module is compiled to C by mypyc when the project is installed (ADR 0043; ``setup.py``), and
runs as plain Python where it is not. Both run the same source, so they make the same floating-point
operations in the same order: the same decisions and figures (``tests/unit/test_pacing_native.py``
holds the two to each other, and ``tests/unit/test_pacing_exact.py`` both to the call-by-call loop).
Keep it to what mypyc compiles well: typed functions over ``list[float]`` and ``int``, no classes,
and nothing from outside the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BIN_SECONDS = 1.0
MAX_BIN = 90
GRACE_SECONDS = 2.0
LEAP_AFTER = 8  # calls stepped one by one before the n-loop may leap
_SQRT2 = math.sqrt(2)


def bisect_right(s: list[float], x: float, lo: int, hi: int) -> int:
    """``bisect.bisect_right(s, x, lo, hi)``, written out so that compiled it runs without a call
    into Python per probe."""
    while lo < hi:
        mid = (lo + hi) // 2
        if x < s[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def add_end_chances(s: list[float], elapsed: Sequence[float], horizons: list[float], mu: list[float], var: list[float]) -> None:
    """For each of ``elapsed`` in turn, ``q`` = P(a duration ends within each of ``horizons``
    (ascending) | it has lasted ``e``), from the sorted samples ``s``: ``q`` added to ``mu`` and
    ``q(1-q)`` to ``var``. The share alive at ``e`` is looked up once, each horizon's from where the
    last one's ended. A ``q`` of 0 (a horizon of 0, or no sample ending within it) is not added:
    adding 0.0 leaves a sum as it was."""
    n = len(s)
    nh = len(horizons)
    first = 0
    while first < nh and horizons[first] <= 0.0:
        first += 1
    for e in elapsed:
        base = bisect_right(s, e, 0, n)
        alive = n - base
        if alive <= 0:
            for i in range(nh):
                mu[i] += 0.9  # beyond anything measured: it is due any moment
                var[i] += 0.9 * (1 - 0.9)
            continue
        lo = base
        for i in range(first, nh):
            lo = bisect_right(s, e + horizons[i], lo, n)
            if lo != base:
                q = (lo - base) / alive
                mu[i] += q
                var[i] += q * (1 - q)


def answer_chances(b0: int, steps: list[int], suffix_h: list[float], suffix_all: list[float]) -> list[tuple[float, float]]:
    """For a call in flight since second ``b0``: P(human answer by each grid step), with p(1-p)."""
    alive = suffix_all[b0]
    if alive <= 0:
        return []
    h0 = suffix_h[b0]
    top = MAX_BIN + 1
    pairs: list[tuple[float, float]] = []
    for step in steps:
        b1 = b0 + step
        p = (h0 - suffix_h[b1 if b1 <= top else top]) / alive
        pairs.append((p, p * (1 - p)))
    return pairs


def add_answer_chances(
    elapsed: Sequence[float],
    known: dict[int, list[tuple[float, float]]],
    steps: list[int],
    suffix_h: list[float],
    suffix_all: list[float],
    mu: list[float],
    var: list[float],
) -> None:
    """Each call in flight's chances (``answer_chances`` of its elapsed second, kept in ``known``
    for the same bins) added in the calls' order: the same sums as one by one."""
    for e in elapsed:
        b0 = min(MAX_BIN, int(e / BIN_SECONDS))
        pairs = known.get(b0)
        if pairs is None:
            pairs = answer_chances(b0, steps, suffix_h, suffix_all)
            known[b0] = pairs
        for i in range(len(pairs)):
            p, pv = pairs[i]
            mu[i] += p
            var[i] += pv


def risk(weights: list[float], mu: list[float], var: list[float]) -> float:
    """A new call's abandon risk: P(answers - free agents > -0.5) under a normal approximation,
    weighted along the grid."""
    total = 0.0
    for i in range(len(weights)):
        m = mu[i]
        v = var[i]
        total += weights[i] * ((1.0 if m > -0.5 else 0.0) if v <= 1e-12 else 0.5 * math.erfc(((-0.5 - m) / math.sqrt(v)) / _SQRT2))
    return total


def risk_bound(weights: list[float], c_new: list[float], dv: list[float], mu: list[float], var: list[float], k: int) -> float:
    """An upper bound of ``risk`` over the states after 0..k-1 more calls (each call adds ``c`` to
    a grid point's mean and ``c(1-c)`` to its variance). Per point, the probability
    Phi((m + 0.5) / sd) is largest where the numerator is largest (after the last call); when that
    numerator is negative, where the spread is largest too, else where it is smallest (now). The
    numerator and spread are widened well past the rounding of k sequential additions."""
    total = 0.0
    for i in range(len(weights)):
        w = weights[i]
        m = mu[i]
        v = var[i]
        if v <= 1e-12:
            total += w
            continue
        c = c_new[i]
        top = m + (k - 1) * c + 0.5
        top += 1e-9 * (abs(m) + (k - 1) * c + 1.0)
        sd = math.sqrt((v + (k - 1) * dv[i]) * (1 + 1e-9)) if top < 0 else math.sqrt(v)
        total += w * 0.5 * math.erfc(-(top / sd) / _SQRT2)
    return total


def add_calls(weights: list[float], c_new: list[float], mu: list[float], var: list[float], room: int, allowance: float) -> tuple[int, float, int]:
    """Place calls one at a time while the next one's risk stays within the allowance (at most
    ``room``): the number placed, the last risk worked out (the refused call's, or the last placed
    one's when room ran out), and how many risks were worked out. Where a bound shows that the next
    k calls all pass, they are added without working out each one's risk, the means and variances
    still summed call by call: the same decision and the same figures as stepping, in O(log n) risk
    evaluations on a long run."""
    n = 0
    last = 0.0
    evaluations = 0
    if c_new[-1] <= 0:
        return n, last, evaluations
    dv = [c * (1 - c) for c in c_new]
    leap = 1
    while n < room:
        last = risk(weights, mu, var)
        evaluations += 1
        if last > allowance:
            break
        k = 1
        # Leap only in a long run (a short one is stepped as cheaply), well below the allowance (near
        # it a bound would mostly fail and cost as much as the step), and never onto the last call
        # room leaves: its own risk is reported then.
        if n >= LEAP_AFTER and last <= allowance / 4 and room - 1 - n >= 2:
            k = min(2 * leap, room - 1 - n)
            while k >= 2 and risk_bound(weights, c_new, dv, mu, var, k) > allowance * (1 - 1e-9) - 1e-15:
                k //= 2
        leap = k
        n += k
        for i in range(len(c_new)):
            c = c_new[i]
            d = dv[i]
            m = mu[i]
            v = var[i]
            for _ in range(k):
                m += c
                v += d
            mu[i] = m
            var[i] = v
    return n, last, evaluations


def predict(
    answers: tuple[list[float], list[float], list[float], list[int], list[float], list[float]],
    known: dict[int, list[tuple[float, float]]],
    wrap: tuple[list[float], float],
    talk_sorted: list[float],
    answered_waiting: int,
    ready_agents: int,
    dialling_elapsed: Sequence[float],
    wrapup_elapsed: Sequence[float],
    talking_elapsed: Sequence[float],
    room: int,
    allowance: float,
) -> tuple[int, float, int, float, float]:
    """One predictive decision's sums (``rules.pacing._predictive`` says what they mean).
    ``answers``: the grid, its weights, P(human answer by each moment), the grid's steps and the
    suffix sums of human answers and of all outcomes; ``wrap``: the wrap-up samples (sorted) and
    their mean. Returns the calls to add, the last risk worked out, how many risks were worked
    out, and the answers expected and agents free by the grid's last moment."""
    grid, weights, c_new, steps, suffix_h, suffix_all = answers
    wrap_sorted, wrap_mean = wrap
    g = len(grid)
    mu_a = [float(answered_waiting)] * g
    var_a = [0.0] * g
    add_answer_chances(dialling_elapsed, known, steps, suffix_h, suffix_all, mu_a, var_a)
    mu_f = [float(ready_agents)] * g
    var_f = [0.0] * g
    # Agents free by each moment: per grid point the same sums in the same order (the agents in
    # wrap-up, then those talking), each agent's chances looked up along the grid at once.
    wrap_h = [t + GRACE_SECONDS for t in grid]
    add_end_chances(wrap_sorted, wrapup_elapsed, wrap_h, mu_f, var_f)
    add_end_chances(talk_sorted, talking_elapsed, [max(0.0, h - wrap_mean) for h in wrap_h], mu_f, var_f)
    mu = [mu_a[i] - mu_f[i] for i in range(g)]
    var = [var_a[i] + var_f[i] for i in range(g)]
    n, last, evaluations = add_calls(weights, c_new, mu, var, room, allowance)
    return n, last, evaluations, mu_a[-1], mu_f[-1]
