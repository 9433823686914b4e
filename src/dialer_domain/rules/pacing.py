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

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from dialer_domain.model.values import CampaignSettings, DialMode
from dialer_domain.rules.abandon_cap import AbandonCap, at_risk

BIN_SECONDS = 1.0
MAX_BIN = 90
GRID_STEP = 3
RECENT_DECAY = 1 - 1 / 300  # the recent abandon rate weighs the last ~300 answers
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


class _Window:
    """A sliding window of samples kept sorted, for conditional survival look-ups in O(log n)."""

    def __init__(self, size: int, prior: Sequence[float]) -> None:
        self.size = size
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []
        self._mean: float | None = None
        for x in prior:
            self.add(x)

    def add(self, x: float) -> Callable[[], None]:
        """Add a sample; returns how to take it back (the engine undoes a step it could not store)."""
        self._mean = None
        self.fifo.append(x)
        bisect.insort(self.sorted, x)
        evicted = len(self.fifo) > self.size
        old = self.fifo.popleft() if evicted else 0.0
        if evicted:
            del self.sorted[bisect.bisect_left(self.sorted, old)]

        def undo() -> None:
            self._mean = None
            self.fifo.pop()
            del self.sorted[bisect.bisect_left(self.sorted, x)]
            if evicted:
                self.fifo.appendleft(old)
                bisect.insort(self.sorted, old)

        return undo

    def p_end_within(self, elapsed: float, horizon: float) -> float:
        """P(duration <= elapsed + horizon | duration > elapsed)."""
        s = self.sorted
        n = len(s)
        alive = n - bisect.bisect_right(s, elapsed)
        if alive <= 0:
            return 0.9  # beyond anything measured: it is due any moment
        ending = bisect.bisect_right(s, elapsed + horizon) - (n - alive)
        return ending / alive

    def add_end_chances(self, elapsed: Sequence[float], horizons: list[float], mu: list[float], var: list[float]) -> None:
        """For each of ``elapsed`` in turn, ``q = p_end_within(e, h)`` along ``horizons`` (ascending)
        added to ``mu`` and ``q(1-q)`` to ``var``, with the same arithmetic: the share alive at ``e``
        looked up once, each horizon's from where the last one's ended."""
        s = self.sorted
        n = len(s)
        bisect_right = bisect.bisect_right
        for e in elapsed:
            base = bisect_right(s, e)
            alive = n - base
            if alive <= 0:
                for i in range(len(horizons)):
                    mu[i] += 0.9  # beyond anything measured: it is due any moment
                    var[i] += 0.9 * (1 - 0.9)
                continue
            lo = base
            for i, h in enumerate(horizons):
                lo = bisect_right(s, e + h, lo)
                q = (lo - base) / alive
                mu[i] += q
                var[i] += q * (1 - q)

    def mean(self) -> float:
        """The samples' mean (kept until the window changes)."""
        if self._mean is None:
            self._mean = sum(self.sorted) / len(self.sorted) if self.sorted else 0.0
        return self._mean


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
    gain: float = 0.5  # online-tuned multiplier on the allowance; cautious until measured
    recent_humans: float = 0.0
    recent_abandons: float = 0.0
    _humans_at_tune: int = 0
    #: bumped whenever the answer-time bins change (an outcome, or its undo): what is derived from them is kept until then
    _bins_epoch: int = attrs.field(default=0, eq=False, repr=False)
    _derived: dict[str, tuple[int, Any]] = attrs.field(factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # A weak prior worth 20 dials: 5 human answers around 9 s, the rest ending unanswered.
        for t in (7, 8, 9, 10, 12):
            self.record_dial_outcome(True, float(t))
        for _ in range(15):
            self.record_dial_outcome(False, 20.0)

    def scalars(self) -> Callable[[], None]:
        """How to put back the counters and the tuning as they are now (``tune`` and
        ``record_answer`` change only these)."""
        kept = (self.humans, self.abandons, self.gain, self.recent_humans, self.recent_abandons, self._humans_at_tune)

        def restore() -> None:
            self.humans, self.abandons, self.gain, self.recent_humans, self.recent_abandons, self._humans_at_tune = kept

        return restore

    def record_dial_outcome(self, human: bool, seconds: float) -> Callable[[], None]:
        """Count one dial's outcome; returns how to take it back."""
        b = min(MAX_BIN, max(0, int(seconds / BIN_SECONDS)))
        self._bins_epoch += 1
        self._outcomes.append((human, b))
        (self.human_bins if human else self.ended_bins)[b] += 1
        evicted = len(self._outcomes) > self.window
        old_h, old_b = self._outcomes.popleft() if evicted else (False, 0)
        if evicted:
            (self.human_bins if old_h else self.ended_bins)[old_b] -= 1

        def undo() -> None:
            self._bins_epoch += 1
            self._outcomes.pop()
            (self.human_bins if human else self.ended_bins)[b] -= 1
            if evicted:
                self._outcomes.appendleft((old_h, old_b))
                (self.human_bins if old_h else self.ended_bins)[old_b] += 1

        return undo

    def record_answer(self, abandoned: bool) -> None:
        self.humans += 1
        self.recent_humans = self.recent_humans * RECENT_DECAY + 1
        self.recent_abandons = self.recent_abandons * RECENT_DECAY + (1 if abandoned else 0)
        if abandoned:
            self.abandons += 1

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.humans if self.humans else 0.0

    def p_human(self) -> float:
        """The share of dials answered by a person (kept until the measurements change)."""
        kept: float = self._kept("p_human", self._p_human)
        return kept

    def _p_human(self) -> float:
        h = sum(self.human_bins)
        total = h + sum(self.ended_bins)
        return h / total if total else 0.0

    def tune(self, target: float) -> None:
        """Integral action on log(gain) towards an aim below the target.

        The aim sits one and a half standard errors of the day's measured rate below the target (so the day's
        final figure stays under it on a bad day too; the margin shrinks as answers accumulate).
        The error is taken on a recent, exponentially weighted abandon rate rather than the day's
        cumulative one, so a quiet stretch does not wind the gain up into a burst later (no
        windup, no ringing). Steps are small, bounded, and taken only after fresh answers."""
        fresh = self.humans - self._humans_at_tune
        if fresh < 10 or self.humans < 30:
            return
        self._humans_at_tune = self.humans
        aim = max(0.3 * target, target - 1.5 * math.sqrt(target * (1 - target) / self.humans))
        recent = self.recent_abandons / self.recent_humans if self.recent_humans else aim
        error = (aim - recent) / aim
        self.gain = min(4.0, max(0.05, self.gain * math.exp(0.15 * max(-1.0, min(1.0, error)))))

    def _kept(self, name: str, make: Callable[[], Any]) -> Any:
        found = self._derived.get(name)
        if found is None or found[0] != self._bins_epoch:
            found = self._derived[name] = (self._bins_epoch, make())
        return found[1]

    def suffix_sums(self) -> tuple[list[float], list[float]]:
        """Human answers and all outcomes at or after each bin (for conditioning on elapsed time)."""
        kept: tuple[list[float], list[float]] = self._kept("suffix", self._suffix_sums)
        return kept

    def answer_grid(self) -> tuple[list[float], list[float], list[float]]:
        """Moments after a dial (every GRID_STEP s to the last measured answer), the share of a new
        call's human answers falling in each step, and P(human answer by each moment)."""
        kept: tuple[list[float], list[float], list[float]] = self._kept("grid", self._answer_grid)
        return kept

    def answer_chances(self, b0: int) -> list[tuple[float, float]]:
        """For a call in flight since second ``b0``: P(human answer by each moment of the answer
        grid), with p(1-p); kept until the measurements change."""
        table: dict[int, list[tuple[float, float]]] = self._kept("chances", dict)
        pairs = table.get(b0)
        if pairs is None:
            suffix_h, suffix_all = self.suffix_sums()
            steps = [int(t / BIN_SECONDS) + 1 for t in self.answer_grid()[0]]
            pairs = table[b0] = _answer_chances(b0, steps, suffix_h, suffix_all)
        return pairs

    def _suffix_sums(self) -> tuple[list[float], list[float]]:
        n = MAX_BIN + 1
        h = [0.0] * (n + 1)
        a = [0.0] * (n + 1)
        for i in range(n - 1, -1, -1):
            h[i] = h[i + 1] + self.human_bins[i]
            a[i] = a[i + 1] + self.human_bins[i] + self.ended_bins[i]
        return h, a

    def _answer_grid(self) -> tuple[list[float], list[float], list[float]]:
        total = sum(self.human_bins) + sum(self.ended_bins)
        last = max((i for i, c in enumerate(self.human_bins) if c > 0), default=25)
        grid = [float(t) for t in range(GRID_STEP, last + GRID_STEP + 1, GRID_STEP)]
        cum = []
        acc = 0.0
        b = 0
        for t in grid:
            while b <= MAX_BIN and b * BIN_SECONDS < t:
                acc += self.human_bins[b]
                b += 1
            cum.append(acc / total if total else 0.0)
        final = cum[-1] if cum and cum[-1] > 0 else 1.0
        weights = [(c - p) / final for c, p in zip(cum, [0.0, *cum[:-1]], strict=True)]
        return grid, weights, cum


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
    how to explain it (the reason and the estimates, worked out when asked for).
    """
    est.tune(settings.target_abandon_rate)
    grid, weights, c_new = est.answer_grid()
    wrap_mean = est.wrap.mean()
    mu_a = [float(snap.answered_waiting)] * len(grid)
    var_a = [0.0] * len(grid)
    # A call's chances depend on its elapsed second only: worked out once per second (and kept
    # until the measurements change), then added call by call in the calls' order (the same sums
    # as one by one).
    for e in snap.dialling_elapsed:
        for i, (p, pv) in enumerate(est.answer_chances(min(MAX_BIN, int(e / BIN_SECONDS)))):
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
    gain, measured, mean_talk = est.gain, est.abandon_rate, est.talk.mean()
    p_human = est.p_human()

    def explain() -> tuple[str, dict[str, float]]:
        estimates = {
            "p_human": round(p_human, 4),
            "expected_answers_25s": round(mu_a[-1], 3),
            "expected_free_agents_27s": round(mu_f[-1], 3),
            "marginal_abandon_risk": round(risk, 5),
            "allowance": round(allowance, 5),
            "gain": round(gain, 4),
            "measured_abandon_rate": round(measured, 5),
            "mean_talk_s": round(mean_talk, 1),
            "mean_wrap_s": round(wrap_mean, 1),
        }
        reason = (
            f"predictive: {mu_a[-1]:.2f} answers expected within {grid[-1]:.0f}s against {mu_f[-1]:.2f} agents free; "
            f"next call's abandon risk {risk:.4f} vs allowance {allowance:.4f}"
        )
        return reason, estimates

    return n, explain


def _answer_chances(b0: int, steps: list[int], suffix_h: list[float], suffix_all: list[float]) -> list[tuple[float, float]]:
    """For a call in flight since second ``b0``: P(human answer by each grid step), with p(1-p)."""
    alive = suffix_all[b0]
    if alive <= 0:
        return []
    h0 = suffix_h[b0]
    out = []
    for step in steps:
        b1 = b0 + step
        p = (h0 - suffix_h[b1 if b1 <= MAX_BIN + 1 else MAX_BIN + 1]) / alive
        out.append((p, p * (1 - p)))
    return out


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
