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

from collections.abc import Callable

import attrs

from dialer_domain.model.values import CampaignSettings, DialMode
from dialer_domain.rules.abandon_cap import AbandonCap, at_risk
from dialer_domain.rules.pacing_estimates import PacingEstimator
from dialer_domain.rules.pacing_math import predict


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
        cap = cap.exposed(at_risk(snap.answered_waiting, len(snap.dialling_elapsed), snap.ready_agents, p_human))
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
    grid = answers.grid
    wrap_mean = est.wrap.mean()
    allowance = min(0.5, settings.target_abandon_rate * est.gain) * ease
    n, risk, _, answers_last, free_last = predict(
        answers.arrays,
        answers.known,
        (est.wrap.sorted, wrap_mean),
        est.talk.sorted,
        snap.answered_waiting,
        snap.ready_agents,
        snap.dialling_elapsed,
        snap.wrapup_elapsed,
        snap.talking_elapsed,
        room,
        allowance,
    )

    def explain() -> tuple[str, dict[str, float]]:
        estimates = {
            "p_human": round(est.p_human(), 4),
            "expected_answers_25s": round(answers_last, 3),
            "expected_free_agents_27s": round(free_last, 3),
            "marginal_abandon_risk": round(risk, 5),
            "allowance": round(allowance, 5),
            "gain": round(est.gain, 4),
            "measured_abandon_rate": round(est.abandon_rate, 5),
            "mean_talk_s": round(est.talk.mean(), 1),
            "mean_wrap_s": round(wrap_mean, 1),
        }
        reason = (
            f"predictive: {answers_last:.2f} answers expected within {grid[-1]:.0f}s against {free_last:.2f} agents free; "
            f"next call's abandon risk {risk:.4f} vs allowance {allowance:.4f}"
        )
        return reason, estimates

    return n, explain
