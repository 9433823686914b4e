"""Pacing's measurements (R2) for one campaign: when dials are answered by a person, how long
calls and wrap-ups last, the abandon rate and the online-tuned gain; kept up to date by the
dialler step by step (each change can be taken back) and read by ``rules.pacing``."""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from itertools import accumulate
from operator import add

import attrs

from dialer_domain.rules.pacing_math import BIN_SECONDS, MAX_BIN, known_chances

GRID_STEP = 3
RECENT_DECAY = 1 - 1 / 300  # the recent abandon rate weighs the last ~300 answers


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
    _answers: AnswerTimes | None = attrs.field(default=None, eq=False, repr=False)

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
        return self.answers().p_human

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

    def answers(self) -> AnswerTimes:
        """What the answer-time bins give (kept until they change)."""
        kept = self._answers
        if kept is None or kept.epoch != self._bins_epoch:
            kept = self._answers = AnswerTimes(self._bins_epoch, self.human_bins, self.ended_bins)
        return kept

    def suffix_sums(self) -> tuple[list[float], list[float]]:
        """Human answers and all outcomes at or after each bin (for conditioning on elapsed time)."""
        a = self.answers()
        return a.suffix_h, a.suffix_all

    def answer_grid(self) -> tuple[list[float], list[float], list[float]]:
        """Moments after a dial (every GRID_STEP s to the last measured answer), the share of a new
        call's human answers falling in each step, and P(human answer by each moment)."""
        a = self.answers()
        return a.grid, a.weights, a.cum

    def answer_chances(self, b0: int) -> list[tuple[float, float]]:
        """For a call in flight since second ``b0``: P(human answer by each moment of the answer
        grid), with p(1-p); kept until the measurements change."""
        return self.answers().chances(b0)


class AnswerTimes:
    """What one state of the answer-time bins gives, worked out once (issue 18: the bins change at
    every dial's outcome, and about a third of a day's pacing decisions came right after one). The
    bins hold counts, so every sum of them is an exact integer whatever its order: the suffix and
    prefix sums below are the same floats as the bin-by-bin loops they replaced."""

    __slots__ = ("arrays", "cum", "epoch", "grid", "known", "p_human", "steps", "suffix_all", "suffix_h", "weights")

    def __init__(self, epoch: int, human_bins: list[float], ended_bins: list[float]) -> None:
        self.epoch = epoch
        # at or after each bin, then 0.0 past the last
        h = list(accumulate(reversed(human_bins)))
        h.reverse()
        h.append(0.0)
        a = list(accumulate(map(add, reversed(human_bins), reversed(ended_bins))))
        a.reverse()
        a.append(0.0)
        self.suffix_h, self.suffix_all = h, a
        humans, total = h[0], a[0]
        self.p_human = humans / total if total else 0.0
        first_none = h.index(0.0)  # bins from here on hold no human answer
        last = first_none - 1 if first_none > 0 else 25
        grid = [float(t) for t in range(GRID_STEP, last + GRID_STEP + 1, GRID_STEP)]
        # human answers before each moment: the bins b with b * BIN_SECONDS < t, at most MAX_BIN
        cum = [(humans - h[min(MAX_BIN + 1, math.ceil(t / BIN_SECONDS))]) / total if total else 0.0 for t in grid]
        final = cum[-1] if cum and cum[-1] > 0 else 1.0
        self.grid, self.cum = grid, cum
        self.weights = [(c - p) / final for c, p in zip(cum, [0.0, *cum[:-1]], strict=True)]
        self.steps = [int(t / BIN_SECONDS) + 1 for t in grid]
        #: a call in flight's chances by its elapsed second (``chances``), filled as decisions ask
        self.known: dict[int, list[tuple[float, float]]] = {}
        #: what ``pacing_math.predict`` takes
        self.arrays = (self.grid, self.weights, self.cum, self.steps, self.suffix_h, self.suffix_all)

    def chances(self, b0: int) -> list[tuple[float, float]]:
        """For a call in flight since second ``b0``: P(human answer by each grid moment), with p(1-p)."""
        return known_chances(b0, self.known, self.steps, self.suffix_h, self.suffix_all)

