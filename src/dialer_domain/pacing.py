"""Pacing (R2): how many calls to place now. Pure functions of a snapshot plus measured estimates.

* progressive: one call in flight per ready agent;
* power: ``ratio_ready x ready + ratio_wrapup x in wrap-up`` calls in flight;
* predictive: an expected-value controller. Every call in flight and every new call may become a
  human answer within a horizon; every busy agent may become free within it (from measured
  answer-time and handling-time distributions, conditioned on how long each call or agent has
  already been going). Calls are added one at a time while the chance that *one more* answered
  call would find no agent (normal approximation of answers minus free agents) stays under an
  allowance. The allowance starts at the campaign's target abandon rate and is tuned online by an
  integral controller on the measured abandon rate (in log space, slow, bounded), so it neither
  oscillates around the limit nor drifts above it.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

import attrs

from dialer_domain.values import CampaignSettings, DialMode

BIN_SECONDS = 1.0
MAX_BIN = 90


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


class _Window:
    """A sliding window of samples kept sorted, for conditional survival look-ups in O(log n)."""

    def __init__(self, size: int, prior: Sequence[float]) -> None:
        self.size = size
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []
        for x in prior:
            self.add(x)

    def add(self, x: float) -> None:
        self.fifo.append(x)
        bisect.insort(self.sorted, x)
        if len(self.fifo) > self.size:
            old = self.fifo.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]

    def p_end_within(self, elapsed: float, horizon: float) -> float:
        """P(duration <= elapsed + horizon | duration > elapsed)."""
        s = self.sorted
        n = len(s)
        alive = n - bisect.bisect_right(s, elapsed)
        if alive <= 0:
            return 0.9  # beyond anything measured: it is due any moment
        ending = bisect.bisect_right(s, elapsed + horizon) - (n - alive)
        return ending / alive

    def mean(self) -> float:
        return sum(self.sorted) / len(self.sorted) if self.sorted else 0.0


@attrs.define
class PacingEstimator:
    """Measured answer probability and timing, handling times and the abandon rate of one campaign."""

    window: int = 2000
    human_bins: list[float] = attrs.field(factory=lambda: [0.0] * (MAX_BIN + 1))
    ended_bins: list[float] = attrs.field(factory=lambda: [0.0] * (MAX_BIN + 1))
    _outcomes: deque[tuple[bool, int]] = attrs.field(factory=deque)
    talk: _Window = attrs.field(factory=lambda: _Window(400, [60.0, 90.0, 120.0, 150.0, 200.0]))
    wrap: _Window = attrs.field(factory=lambda: _Window(400, [10.0, 15.0, 20.0]))
    humans: int = 0
    abandons: int = 0
    gain: float = 0.7  # online-tuned multiplier on the allowance; starts cautious
    _humans_at_tune: int = 0

    def __attrs_post_init__(self) -> None:
        # A weak prior worth 20 dials: 5 human answers around 9 s, the rest ending unanswered.
        for t in (7, 8, 9, 10, 12):
            self.record_dial_outcome(True, float(t))
        for _ in range(15):
            self.record_dial_outcome(False, 20.0)

    def record_dial_outcome(self, human: bool, seconds: float) -> None:
        b = min(MAX_BIN, max(0, int(seconds / BIN_SECONDS)))
        self._outcomes.append((human, b))
        (self.human_bins if human else self.ended_bins)[b] += 1
        if len(self._outcomes) > self.window:
            old_h, old_b = self._outcomes.popleft()
            (self.human_bins if old_h else self.ended_bins)[old_b] -= 1

    def record_answer(self, abandoned: bool) -> None:
        self.humans += 1
        if abandoned:
            self.abandons += 1

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.humans if self.humans else 0.0

    def p_human(self) -> float:
        h = sum(self.human_bins)
        total = h + sum(self.ended_bins)
        return h / total if total else 0.0

    def tune(self, target: float) -> None:
        """Integral action on log(gain): measured abandon rate below the aim raises the allowance,
        above lowers it. Steps are small and only after fresh answers, so it cannot ring."""
        fresh = self.humans - self._humans_at_tune
        if fresh < 10 or self.humans < 50:
            return
        self._humans_at_tune = self.humans
        # Aim below the target by two standard errors of the rate measured so far, so that the
        # day's final figure stays under the target on a bad day too (the margin shrinks as the
        # day's answers accumulate).
        aim = max(0.3 * target, target - 2 * math.sqrt(target * (1 - target) / self.humans))
        error = (aim - self.abandon_rate) / aim
        self.gain = min(6.0, max(0.1, self.gain * math.exp(0.3 * max(-1.0, min(1.0, error)))))

    def survival_tables(self, horizon: float) -> tuple[list[float], list[float]]:
        """For each elapsed bin e: P(human answer in (e, e+h] | still ringing at e), and the same
        for a new call (index 0)."""
        n = MAX_BIN + 1
        h_suffix = [0.0] * (n + 1)
        all_suffix = [0.0] * (n + 1)
        for i in range(n - 1, -1, -1):
            h_suffix[i] = h_suffix[i + 1] + self.human_bins[i]
            all_suffix[i] = all_suffix[i + 1] + self.human_bins[i] + self.ended_bins[i]
        hb = int(horizon / BIN_SECONDS)
        p = [0.0] * n
        for e in range(n):
            alive = all_suffix[e]
            if alive <= 0:
                continue
            upto = min(n, e + hb + 1)
            p[e] = (h_suffix[e] - h_suffix[upto]) / alive
        return p, h_suffix

    def answer_time_quantile(self, q: float) -> float:
        total = sum(self.human_bins)
        if total <= 0:
            return 10.0
        acc = 0.0
        for i, c in enumerate(self.human_bins):
            acc += c
            if acc >= q * total:
                return (i + 0.5) * BIN_SECONDS
        return MAX_BIN * BIN_SECONDS


def decide(
    mode: DialMode,
    settings: CampaignSettings,
    snap: PacingSnapshot,
    estimator: PacingEstimator | None = None,
    max_lines: int | None = None,
) -> PacingDecision:
    """How many new calls to place now for one contact-first campaign."""
    if snap.logged_in < settings.min_agents:
        return PacingDecision(0, f"{snap.logged_in} agents logged in, fewer than the minimum {settings.min_agents}")
    in_flight = len(snap.dialling_elapsed) + snap.answered_waiting
    lines = max_lines if max_lines is not None else 4 * snap.logged_in + 4
    if mode is DialMode.PROGRESSIVE:
        want = snap.ready_agents
        n = want - in_flight
        reason = f"progressive: {snap.ready_agents} ready, {in_flight} in flight"
        est: dict[str, float] = {}
    elif mode is DialMode.POWER:
        exact = settings.power_ratio_ready * snap.ready_agents + settings.power_ratio_wrapup * len(snap.wrapup_elapsed)
        want = int(exact + 1e-9)
        n = want - in_flight
        reason = (
            f"power: {settings.power_ratio_ready} x {snap.ready_agents} ready + "
            f"{settings.power_ratio_wrapup} x {len(snap.wrapup_elapsed)} in wrap-up = {exact:.2f}; {in_flight} in flight"
        )
        est = {}
    elif mode is DialMode.PREDICTIVE:
        assert estimator is not None, "predictive pacing needs an estimator"
        n, reason, est = _predictive(settings, snap, estimator, lines - in_flight)
    else:
        return PacingDecision(0, f"{mode.value} is agent-first; calls follow accepted offers")
    n = max(0, min(n, lines - in_flight, snap.queued_contacts))
    return PacingDecision(n, reason, est)


def _predictive(settings: CampaignSettings, snap: PacingSnapshot, est: PacingEstimator, room: int) -> tuple[int, str, dict[str, float]]:
    est.tune(settings.target_abandon_rate)
    horizon = est.answer_time_quantile(0.7)
    p_ring, _ = est.survival_tables(horizon)
    p_new = p_ring[0]
    # Demand: answers expected within the horizon.
    mu_a = float(snap.answered_waiting)
    var_a = 0.0
    for e in snap.dialling_elapsed:
        p = p_ring[min(MAX_BIN, int(e / BIN_SECONDS))]
        mu_a += p
        var_a += p * (1 - p)
    # Supply: ready agents now, plus busy agents expected to be free within the horizon.
    mu_f = float(snap.ready_agents)
    var_f = 0.0
    for e in snap.wrapup_elapsed:
        q = est.wrap.p_end_within(e, horizon)
        mu_f += q
        var_f += q * (1 - q)
    wrap_mean = est.wrap.mean()
    for e in snap.talking_elapsed:
        q = est.talk.p_end_within(e, max(0.0, horizon - wrap_mean))
        mu_f += q
        var_f += q * (1 - q)
    allowance = min(0.5, settings.target_abandon_rate * est.gain)
    n = 0
    mu, var = mu_a - mu_f, var_a + var_f
    while n < room and p_new > 0:
        # Chance that one more answered call finds every free agent taken.
        if _p_normal_above(mu, var, -0.5) > allowance:
            break
        n += 1
        mu += p_new
        var += p_new * (1 - p_new)
    estimates = {
        "p_human": round(est.p_human(), 4),
        "p_answer_in_horizon": round(p_new, 4),
        "horizon_s": round(horizon, 2),
        "expected_answers": round(mu_a, 3),
        "expected_free_agents": round(mu_f, 3),
        "allowance": round(allowance, 5),
        "gain": round(est.gain, 4),
        "measured_abandon_rate": round(est.abandon_rate, 5),
        "mean_talk_s": round(est.talk.mean(), 1),
        "mean_wrap_s": round(wrap_mean, 1),
    }
    reason = f"predictive: {mu_a:.2f} answers expected within {horizon:.0f}s against {mu_f:.2f} agents expected free; allowance {allowance:.4f}"
    return n, reason, estimates


def _p_normal_above(mu: float, var: float, x: float) -> float:
    if var <= 1e-12:
        return 1.0 if mu > x else 0.0
    z = (x - mu) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))
