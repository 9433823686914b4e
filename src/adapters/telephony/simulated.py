"""A simulated world on a virtual clock (simpy): simulated telephony (the Telephony port),
simulated agents (the AgentDesktop port) and the driver that steps the dialler through simulated
time. ``entrypoints.simulate`` wires them to the real dialler, store and statistics fold.

Every random draw comes from one seeded generator, so a seed gives the same day every time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import simpy

from dialer_domain.model.values import AgentState, DialMode
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.ports import CallReport, CallRequest, ReportKind, ReportSink, ScreenPop


@attrs.frozen(kw_only=True)
class WorldParams:
    """The called population and the agents (defaults: the pacing benchmark's scenario)."""

    p_human: float = 0.25
    p_machine: float = 0.15
    p_busy: float = 0.05
    p_unreachable: float = 0.05
    p_invalid: float = 0.0  # the network says the number does not exist
    p_rejected: float = 0.0  # the called party declines while it rings
    human_answer_median: float = 9.0
    human_answer_sigma: float = 0.45
    human_answer_min: float = 2.0
    human_answer_max: float = 25.0
    machine_answer_median: float = 15.0
    machine_answer_sigma: float = 0.3
    busy_after: float = 3.0
    unreachable_after: float = 4.0
    machine_detect_after: float = 3.5
    talk_mean: float = 120.0
    talk_sd: float = 120.0
    wrap_mean: float = 15.0
    wrap_sd: float = 7.5
    preview_seconds: float = 10.0
    p_callback: float = 0.03
    p_sale: float = 0.2

    def __attrs_post_init__(self) -> None:
        total = self.p_human + self.p_machine + self.p_busy + self.p_unreachable + self.p_invalid + self.p_rejected
        if not 0 <= total <= 1:
            raise ValueError(f"answer probabilities add up to {total:.2f}; they must stay within 0..1")


def _lognormal_from_mean_sd(rng: random.Random, mean: float, sd: float) -> float:
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


class VirtualClock:
    """The Clock port on simulated time."""

    def __init__(self, env: simpy.Environment, start: datetime) -> None:
        self.env = env
        self.start = start
        self._at: float | None = None
        self._now = start

    def now(self) -> datetime:
        at = float(self.env.now)
        if at != self._at:  # asked many times a simulated moment: made once for each
            self._at, self._now = at, self.at(at)
        return self._now

    def at(self, seconds: float) -> datetime:
        """The moment ``seconds`` of simulated time after the start."""
        return self.start + timedelta(seconds=float(seconds))


class SimulatedTelephony:
    """The Telephony port as a seeded world: each call rings, then is answered by a human or a
    machine, is busy, unreachable or not answered; connected calls last a sampled talk time."""

    def __init__(self, env: simpy.Environment, rng: random.Random, params: WorldParams, clock: VirtualClock) -> None:
        self.env = env
        self.rng = rng
        self.p = params
        self.clock = clock
        self.sink: ReportSink | None = None
        self._procs: dict[UUID, simpy.Process] = {}
        self.on_hold: set[UUID] = set()  # calls whose callee waits on hold
        self.held: list[tuple[UUID, str, bool]] = []  # hold (True) and resume (False) commands, as the fake keeps them
        self._talk: dict[UUID, float] = {}

    def place_call(self, request: CallRequest) -> None:
        self._procs[request.call_id] = self.env.process(self._call(request.call_id, request.max_ring_seconds))

    def open_agent_leg(self, agent_id: str, address: str) -> None:
        """The simulated agents are always on the line: their leg is up at once."""
        self._report(ReportKind.AGENT_LEG_UP, agent_id=agent_id)

    def close_agent_leg(self, agent_id: str) -> None:
        pass

    def agent_leg_drops(self, agent_id: str) -> None:
        """The world's agent hangs up their phone (R6 when a contact is ringing for them)."""
        self._report(ReportKind.AGENT_LEG_ENDED, agent_id=agent_id)

    def play_and_hang_up(self, call_id: UUID, message: str) -> None:
        self.hang_up(call_id, "abandoned: no agent free")

    def bridge(self, call_id: UUID, agent_id: str) -> None:
        talk = self._talk.pop(call_id, None)
        if talk is None:
            talk = _lognormal_from_mean_sd(self.rng, self.p.talk_mean, self.p.talk_sd)
        self._procs[call_id] = self.env.process(self._talking(call_id, talk))

    def hold(self, call_id: UUID, agent_id: str, on: bool) -> None:
        """The simulated callee waits on hold; the talk time left runs on (a hold is part of the talk)."""
        self.held.append((call_id, agent_id, on))
        if on:
            self.on_hold.add(call_id)
        else:
            self.on_hold.discard(call_id)

    def hang_up(self, call_id: UUID, reason: str) -> None:
        self.on_hold.discard(call_id)
        proc = self._procs.pop(call_id, None)
        self._talk.pop(call_id, None)
        if proc is not None and proc.is_alive and proc is not self.env.active_process:
            proc.interrupt(reason)

    def fate(self, call_id: UUID, network_call_id: str) -> None:
        """The simulated network lives in the process: its calls ended with it."""
        return None

    def _report(self, kind: ReportKind, call_id: UUID | None = None, detail: str = "", agent_id: str | None = None) -> None:
        assert self.sink is not None, "the simulated telephony has no sink to report to"
        self.sink.report(CallReport(kind, self.clock.now(), call_id=call_id, agent_id=agent_id, detail=detail))

    def _call(self, call_id: UUID, max_ring: int) -> Generator[simpy.Event, Any, None]:
        p, rng = self.p, self.rng
        u = rng.random()
        # Draw the talk time now too, so that the stream of draws does not depend on pacing order.
        self._talk[call_id] = _lognormal_from_mean_sd(rng, p.talk_mean, p.talk_sd)
        try:
            if u < p.p_busy:
                yield self.env.timeout(p.busy_after)
                self._end(call_id, ReportKind.BUSY, "busy")
                return
            if u < p.p_busy + p.p_unreachable:
                yield self.env.timeout(p.unreachable_after)
                self._end(call_id, ReportKind.FAILED, "unreachable")
                return
            failing = p.p_busy + p.p_unreachable + p.p_invalid
            if u < failing:
                yield self.env.timeout(p.unreachable_after)
                self._end(call_id, ReportKind.INVALID_NUMBER, "no such number")
                return
            yield self.env.timeout(1.0)
            self._report(ReportKind.RINGING, call_id)
            if u < failing + p.p_rejected:
                yield self.env.timeout(p.busy_after)
                self._end(call_id, ReportKind.REJECTED, "declined")
                return
            failing += p.p_rejected
            if u < failing + p.p_human:
                t = rng.lognormvariate(math.log(p.human_answer_median), p.human_answer_sigma)
                t = min(p.human_answer_max, max(p.human_answer_min, t))
                if t < max_ring:
                    yield self.env.timeout(max(0.0, t - 1.0))
                    self._procs.pop(call_id, None)
                    self._report(ReportKind.ANSWERED_HUMAN, call_id)
                    return
            elif u < failing + p.p_human + p.p_machine:
                t = rng.lognormvariate(math.log(p.machine_answer_median), p.machine_answer_sigma)
                if t < max_ring:
                    yield self.env.timeout(max(0.0, t - 1.0) + p.machine_detect_after)
                    self._procs.pop(call_id, None)
                    self._report(ReportKind.ANSWERED_MACHINE, call_id)
                    return
            yield self.env.timeout(max_ring - 1.0)
            self._end(call_id, ReportKind.NO_ANSWER, "no answer")
        except simpy.Interrupt:
            return

    def _talking(self, call_id: UUID, talk: float) -> Generator[simpy.Event, Any, None]:
        try:
            yield self.env.timeout(talk)
        except simpy.Interrupt:
            return
        self._end(call_id, ReportKind.COMPLETED, "contact hung up")

    def _end(self, call_id: UUID, kind: ReportKind, reason: str) -> None:
        self._procs.pop(call_id, None)
        self._talk.pop(call_id, None)
        self._report(kind, call_id, reason)


class SimulatedAgents:
    """The AgentDesktop port played by simulated agents: they accept offers (after a preview, or
    at once with auto-answer), talk, take a sampled wrap-up, dispose, sometimes book a callback,
    and click Ready."""

    def __init__(self, env: simpy.Environment, rng: random.Random, params: WorldParams, dispositions: tuple[str, ...]) -> None:
        self.env = env
        self.rng = rng
        self.p = params
        self.dispositions = dispositions
        self.engine: Dialler | None = None
        self.driver: SimulationDriver | None = None
        self.stopping = False

    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        assert self.engine is not None
        mode = self.engine.campaign(pop.campaign_id).dial_mode
        delay = self.p.preview_seconds if mode is DialMode.PREVIEW else (0.5 if auto_answer else 3.0)
        self.env.process(self._later(delay, lambda: self._accept(agent_id, offer_id)))

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None:
        pass

    def wrapup_started(self, agent_id: str, call_id: UUID, until: datetime) -> None:
        wrap = _lognormal_from_mean_sd(self.rng, self.p.wrap_mean, self.p.wrap_sd)
        u = self.rng.random()
        self.env.process(self._later(wrap, lambda: self._finish_wrapup(agent_id, u)))

    def _later(self, delay: float, fn: Callable[[], None]) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay)
        assert self.driver is not None
        self.driver.call(fn)

    def _accept(self, agent_id: str, offer_id: UUID) -> None:
        assert self.engine is not None
        s = self.engine.agent(agent_id)
        if s.offer_id == offer_id and s.state is AgentState.OFFERED:
            self.engine.accept_offer(agent_id, offer_id)

    def _finish_wrapup(self, agent_id: str, u: float) -> None:
        engine = self.engine
        assert engine is not None
        s = engine.agent(agent_id)
        if s.state is not AgentState.WRAP_UP:
            return
        callback_at = None
        if u < self.p.p_callback:
            code = "callback"
            callback_at = engine.clock.now() + timedelta(minutes=30 + int(u * 3000) % 90)
        elif u < self.p.p_callback + self.p.p_sale:
            code = "sale"
        else:
            code = "not_interested"
        if code not in self.dispositions:
            code = "sale"
        if self.stopping:
            engine.dispose(agent_id, code, callback_at=callback_at)
            engine.log_out(agent_id, by="simulation: end of day")
        else:
            engine.dispose(agent_id, code, callback_at=callback_at, then_ready=True)  # the desktop's one "done"


class SimulationDriver:
    """Runs engine calls on simulated time and wakes the engine at its next timer."""

    def __init__(self, env: simpy.Environment, engine: Dialler) -> None:
        self.env = env
        self.engine = engine
        self._armed: float | None = None

    def call(self, fn: Callable[[], object]) -> None:
        fn()
        self.arm()

    def report(self, report: CallReport) -> None:
        """The ReportSink of the simulated world: the engine takes the report on simulated time."""
        self.call(lambda: self.engine.on_report(report))

    def arm(self) -> None:
        due = self.engine.next_due()
        if due is None:
            return
        at = max(float(self.env.now), (due - self.engine.clock.now()).total_seconds() + float(self.env.now))
        if self._armed is not None and self._armed <= at and self._armed >= float(self.env.now):
            return
        self._armed = at
        self.env.process(self._wake(at))

    def _wake(self, at: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(at - float(self.env.now))
        if self._armed == at:
            self._armed = None
        self.engine.tick(periodic=False)
        self.arm()

    def ticking(self, every: float, until: float) -> Generator[simpy.Event, Any, None]:
        while float(self.env.now) < until:
            self.call(self.engine.tick)
            yield self.env.timeout(every)
