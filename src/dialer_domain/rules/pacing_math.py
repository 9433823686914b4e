"""Predictive pacing's arithmetic (R2, ADR 0004): the sums one decision makes, as plain functions of
lists and numbers. ``rules.pacing`` and ``rules.pacing_estimates`` keep the state and the reasons.

This module is compiled to C by mypyc when the project is installed (ADR 0043; ``setup.py``), and
runs as plain Python where it is not. Both run the same source, so they make the same floating-point
operations in the same order: the same decisions and figures (``tests/unit/test_pacing_native.py``
holds the two to each other, and ``tests/unit/test_pacing_exact.py`` the installed one to the
call-by-call loop).
Keep it to what mypyc compiles well: typed functions over ``list[float]`` and ``int``, no classes,
and nothing from outside the standard library.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Final

BIN_SECONDS = 1.0
MAX_BIN = 90
GRACE_SECONDS = 2.0
LEAP_AFTER = 8  # calls stepped one by one before the n-loop may leap
_SQRT2 = math.sqrt(2)
#: Compiled, the written-out bisection below runs as C; as plain Python the standard library's (in
#: C) is the faster of the two. Both give the same index.
COMPILED: Final = not __file__.endswith(".py")
_stdlib_bisect_right = bisect.bisect_right


def bisect_right(s: list[float], x: float, lo: int, hi: int) -> int:
    """``bisect.bisect_right(s, x, lo, hi)``, written out so that compiled it runs without a call
    into Python per probe (``add_end_chances`` calls it only when compiled)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if x < s[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def add_free_chances(s: list[float], elapsed: Sequence[float], bases: list[int], h: float, m: float, v: float, native: bool) -> tuple[float, float]:
    """``m`` and ``v`` with, for each of ``elapsed`` in turn (how long each agent has been in one
    state, ``bases`` its place among the sorted durations ``s``), ``q`` = P(the state ends within
    ``h`` more seconds | it has lasted that long) added to ``m`` and ``q(1-q)`` to ``v``. A ``q`` of
    0 (a horizon of 0, or no sample ending within it) is not added: adding 0.0 leaves a sum as it
    was."""
    n = len(s)
    for j in range(len(bases)):
        base = bases[j]
        alive = n - base
        if alive <= 0:
            m += 0.9  # beyond anything measured: it is due any moment
            v += 0.9 * (1 - 0.9)
            continue
        if h <= 0.0:
            continue
        x = elapsed[j] + h
        lo = bisect_right(s, x, base, n) if native else _stdlib_bisect_right(s, x, base, n)
        if lo != base:
            q = (lo - base) / alive
            m += q
            v += q * (1 - q)
    return m, v


def _bases(s: list[float], elapsed: Sequence[float], native: bool) -> list[int]:
    """Each of ``elapsed``'s place among the sorted durations ``s``: the samples ended by then."""
    n = len(s)
    return [bisect_right(s, e, 0, n) if native else _stdlib_bisect_right(s, e, 0, n) for e in elapsed]


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


def known_chances(
    b0: int, known: dict[int, list[tuple[float, float]]], steps: list[int], suffix_h: list[float], suffix_all: list[float]
) -> list[tuple[float, float]]:
    """``answer_chances(b0, ...)``, kept in ``known`` (for the same bins) once worked out."""
    pairs = known.get(b0)
    if pairs is None:
        pairs = answer_chances(b0, steps, suffix_h, suffix_all)
        known[b0] = pairs
    return pairs


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
    suffix sums of human answers and of all outcomes; ``known``: the calls' chances worked out so
    far for these answers, by elapsed second; ``wrap``: the wrap-up durations (sorted) and their
    mean. Returns the calls to add, the last risk worked out, how many risks were worked out, and
    the answers expected and the agents free by the grid's last moment.

    Each grid point's sums are their own: the answers expected (those waiting, then each call in
    flight in the calls' order) and the agents free (those ready, then each agent in wrap-up, then
    each one talking, in the agents' order). They are summed point by point, in those orders."""
    grid, weights, c_new, steps, suffix_h, suffix_all = answers
    wrap_sorted, wrap_mean = wrap
    native = COMPILED
    calls: list[list[tuple[float, float]]] = []  # each call in flight's chances along the grid
    for e in dialling_elapsed:
        pairs = known_chances(min(MAX_BIN, int(e / BIN_SECONDS)), known, steps, suffix_h, suffix_all)
        if pairs:
            calls.append(pairs)
    wrap_bases = _bases(wrap_sorted, wrapup_elapsed, native)
    talk_bases = _bases(talk_sorted, talking_elapsed, native)
    g = len(grid)
    mu = [0.0] * g
    var = [0.0] * g
    answers_last = free_last = 0.0
    for i in range(g):
        m_a = float(answered_waiting)
        v_a = 0.0
        for pairs in calls:
            p, pv = pairs[i]
            m_a += p
            v_a += pv
        # agents free by the moment plus the grace an answer may wait; a talking agent has the
        # mean wrap-up still to go
        h = grid[i] + GRACE_SECONDS
        m_f, v_f = add_free_chances(wrap_sorted, wrapup_elapsed, wrap_bases, h, float(ready_agents), 0.0, native)
        m_f, v_f = add_free_chances(talk_sorted, talking_elapsed, talk_bases, max(0.0, h - wrap_mean), m_f, v_f, native)
        mu[i] = m_a - m_f
        var[i] = v_a + v_f
        answers_last, free_last = m_a, m_f
    n, last, evaluations = add_calls(weights, c_new, mu, var, room, allowance)
    return n, last, evaluations, answers_last, free_last
