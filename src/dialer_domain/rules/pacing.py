"""Pacing (R2): how many calls to place now. Pure functions of a snapshot plus measured estimates.

* progressive: one call in flight per ready agent;
* power: ``ratio_ready x ready + ratio_wrapup x in wrap-up`` calls in flight;
* predictive: an expected-value controller resolved in time (see ``_predictive``): a new call is
  placed while the probability that its answer would find no free agent, averaged over when it
  may be answered, stays under an allowance. The allowance is the campaign's target abandon rate
  times a gain tuned online (integral action in log space on the recent abandon rate, towards an
  aim below the target; small bounded steps), so it neither oscillates around the limit nor drifts
  above it. See ADR 0004.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from dialer_domain.model.values import CampaignSettings, DialMode
from dialer_domain.rules.abandon_cap import AbandonCap, at_risk
from dialer_domain.rules.pacing_estimates import BIN_SECONDS, MAX_BIN, PacingEstimator

GRACE_SECONDS = 2.0
LEAP_AFTER = 8  # calls stepped one by one before the n-loop may leap


@attrs.frozen
class PacingSnapshot:
    ready_agents: int
    wrapup_elapsed: tuple[float, ...]  # seconds each agent in wrap-up has been there
    talking_elapsed: tuple[float, ...]  # seconds each talking agent has been talking
    dialling_elapsed: tuple[float, ...]  # seconds since each unanswered call in flight was dialled
    answered_waiting: int  # human answers waiting for an agent
    logged_in: int
    queued_contacts: int


@attrs.frozen
class PacingDecision:
    calls: int
    reason: str
    estimates: dict[str, float] = attrs.field(factory=dict)


def decide(
    mode: DialMode,
    settings: CampaignSettings,
    snap: PacingSnapshot,
    estimator: PacingEstimator | None = None,
    max_lines: int | None = None,
    cap: AbandonCap | None = None,
    *,
    explain: bool = True,
) -> PacingDecision:
    """How many new calls to place now for one contact-first campaign. With ``cap`` (the
    campaign's rolling abandon rates against its limit), power and predictive fall back towards
    progressive before the limit would be passed (``rules.abandon_cap``). ``explain=False``: the
    reason and the estimates are worked out only for a decision that places calls (the one a
    dialler records); a decision that places none has neither."""
    if snap.logged_in < settings.min_agents:
        return PacingDecision(0, f"{snap.logged_in} agents logged in, fewer than the minimum {settings.min_agents}")
    in_flight = len(snap.dialling_elapsed) + snap.answered_waiting
    lines = max_lines if max_lines is not None else 4 * snap.logged_in + 4
    p_human = estimator.p_human() if estimator is not None else 1.0
    if cap is not None:
        cap = attrs.evolve(cap, exposure=at_risk(snap.answered_waiting, len(snap.dialling_elapsed), snap.ready_agents, p_human))
    ease = cap.factor if cap is not None and mode in (DialMode.POWER, DialMode.PREDICTIVE) else 1.0
    why: Callable[[], tuple[str, dict[str, float]]]
    if mode is DialMode.PROGRESSIVE or ease <= 0:
        n = snap.ready_agents - in_flight

        def why() -> tuple[str, dict[str, float]]:
            reason = f"progressive: {snap.ready_agents} ready, {in_flight} in flight"
            if mode is not DialMode.PROGRESSIVE:
                reason = f"{mode.value} paced as {reason}, as the abandon-rate cap requires"
            return reason, {}

    elif mode is DialMode.POWER:
        ratio_ready = 1 + (settings.power_ratio_ready - 1) * ease if settings.power_ratio_ready > 1 else settings.power_ratio_ready
        ratio_wrapup = settings.power_ratio_wrapup * ease
        exact = ratio_ready * snap.ready_agents + ratio_wrapup * len(snap.wrapup_elapsed)
        n = int(exact + 1e-9) - in_flight

        def why() -> tuple[str, dict[str, float]]:
            reason = (
                f"power: {ratio_ready:g} x {snap.ready_agents} ready + "
                f"{ratio_wrapup:g} x {len(snap.wrapup_elapsed)} in wrap-up = {exact:.2f}; {in_flight} in flight"
            )
            if ease < 1:
                reason += f"; ratios eased by the abandon-rate cap ({settings.power_ratio_ready:g}, {settings.power_ratio_wrapup:g} set)"
            return reason, {}

    elif mode is DialMode.PREDICTIVE:
        assert estimator is not None, "predictive pacing needs an estimator"
        n, predicted = _predictive(settings, snap, estimator, lines - in_flight, ease)

        def why() -> tuple[str, dict[str, float]]:
            reason, est = predicted()
            if ease < 1:
                reason += f"; allowance eased x{ease:.2f} by the abandon-rate cap"
            return reason, est

    else:
        return PacingDecision(0, f"{mode.value} is agent-first; calls follow accepted offers")
    capped: int | None = None
    if cap is not None and ease > 0 and mode is not DialMode.PROGRESSIVE:
        most = cap.most_new_calls(len(snap.dialling_elapsed), snap.answered_waiting, snap.ready_agents, p_human)
        if n > most:
            n = capped = max(most, snap.ready_agents - in_flight)
    n = max(0, min(n, lines - in_flight, snap.queued_contacts))
    if not explain and n <= 0:
        return PacingDecision(n, "")
    reason, est = why()
    if cap is not None:
        if capped is not None:
            reason += f"; {capped} placed, as many as the abandon-rate cap leaves room for"
        reason += f"; {cap.describe()}"
        est = {**est, **cap.evidence()}
    return PacingDecision(n, reason, est)


def _predictive(
    settings: CampaignSettings, snap: PacingSnapshot, est: PacingEstimator, room: int, ease: float = 1.0
) -> tuple[int, Callable[[], tuple[str, dict[str, float]]]]:
    """Time-resolved expected-value pacing.

    On a grid of moments t after now: A(t) = answers expected by t (waiting ones, calls in flight
    conditioned on how long they have rung, and new calls), F(t) = agents free by t + the grace
    an answer may wait (ready ones, and busy ones conditioned on how long they have been busy).
    A new call answered at t is abandoned when the other answers by t already took every agent
    free by t + grace; its abandon probability is that chance averaged over its answer-time
    distribution. Calls are added while that stays under the allowance. Returns the number, and
    how to explain it (the reason and the estimates, worked out when asked for, which is before the
    measurements change).
    """
    est.tune(settings.target_abandon_rate)
    answers = est.answers()
    grid, weights, c_new = answers.grid, answers.weights, answers.cum
    wrap_mean = est.wrap.mean()
    mu_a = [float(snap.answered_waiting)] * len(grid)
    var_a = [0.0] * len(grid)
    # A call's chances depend on its elapsed second only: worked out once per second (and kept
    # until the measurements change), then added call by call in the calls' order (the same sums
    # as one by one).
    chances = answers.chances
    for e in snap.dialling_elapsed:
        for i, (p, pv) in enumerate(chances(min(MAX_BIN, int(e / BIN_SECONDS)))):
            mu_a[i] += p
            var_a[i] += pv
    mu_f = [float(snap.ready_agents)] * len(grid)
    var_f = [0.0] * len(grid)
    # Agents free by each moment: per grid point the same sums in the same order (the agents in
    # wrap-up, then those talking), each agent's chances looked up along the grid at once.
    wrap_h = [t + GRACE_SECONDS for t in grid]
    est.wrap.add_end_chances(snap.wrapup_elapsed, wrap_h, mu_f, var_f)
    est.talk.add_end_chances(snap.talking_elapsed, [max(0.0, h - wrap_mean) for h in wrap_h], mu_f, var_f)
    allowance = min(0.5, settings.target_abandon_rate * est.gain) * ease
    mu = [a - f for a, f in zip(mu_a, mu_f, strict=True)]
    var = [a + f for a, f in zip(var_a, var_f, strict=True)]
    n, risk = _add_calls(weights, c_new, mu, var, room, allowance)
    def explain() -> tuple[str, dict[str, float]]:
        estimates = {
            "p_human": round(est.p_human(), 4),
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
        return reason, estimates

    return n, explain


_SQRT2 = math.sqrt(2)


def _risk(weights: list[float], mu: list[float], var: list[float]) -> float:
    """A new call's abandon risk: P(answers - free agents > -0.5) under a normal approximation,
    weighted along the grid."""
    return sum(
        [
            w * ((1.0 if m > -0.5 else 0.0) if v <= 1e-12 else 0.5 * math.erfc(((-0.5 - m) / math.sqrt(v)) / _SQRT2))
            for w, m, v in zip(weights, mu, var, strict=True)
        ]
    )


def _risk_bound(weights: list[float], c_new: list[float], dv: list[float], mu: list[float], var: list[float], k: int) -> float:
    """An upper bound of ``_risk`` over the states after 0..k-1 more calls (each call adds ``c`` to
    a grid point's mean and ``c(1-c)`` to its variance). Per point, the probability
    Phi((m + 0.5) / sd) is largest where the numerator is largest (after the last call); when that
    numerator is negative, where the spread is largest too, else where it is smallest (now). The
    numerator and spread are widened well past the rounding of k sequential additions."""
    total = 0.0
    for w, c, d, m, v in zip(weights, c_new, dv, mu, var, strict=True):
        if v <= 1e-12:
            total += w
            continue
        top = m + (k - 1) * c + 0.5
        top += 1e-9 * (abs(m) + (k - 1) * c + 1.0)
        sd = math.sqrt((v + (k - 1) * d) * (1 + 1e-9)) if top < 0 else math.sqrt(v)
        total += w * 0.5 * math.erfc(-(top / sd) / _SQRT2)
    return total


def _add_calls(
    weights: list[float], c_new: list[float], mu: list[float], var: list[float], room: int, allowance: float
) -> tuple[int, float]:
    """Place calls one at a time while the next one's risk stays within the allowance (at most
    ``room``): the number placed, and the last risk worked out (the refused call's, or the last
    placed one's when room ran out). Where a bound shows that the next k calls all pass, they are
    added without working out each one's risk, the means and variances still summed call by call:
    the same decision and the same figures as stepping, in O(log n) risk evaluations on a long run."""
    n = 0
    risk = 0.0
    if c_new[-1] <= 0:
        return n, risk
    dv = [c * (1 - c) for c in c_new]
    leap = 1
    while n < room:
        risk = _risk(weights, mu, var)
        if risk > allowance:
            break
        k = 1
        # Leap only in a long run (a short one is stepped as cheaply), well below the allowance (near
        # it a bound would mostly fail and cost as much as the step), and never onto the last call
        # room leaves: its own risk is reported then.
        if n >= LEAP_AFTER and risk <= allowance / 4 and room - 1 - n >= 2:
            k = min(2 * leap, room - 1 - n)
            while k >= 2 and _risk_bound(weights, c_new, dv, mu, var, k) > allowance * (1 - 1e-9) - 1e-15:
                k //= 2
        leap = k
        n += k
        for i, c in enumerate(c_new):
            m, v, d = mu[i], var[i], dv[i]
            for _ in range(k):
                m += c
                v += d
            mu[i], var[i] = m, v
    return n, risk
