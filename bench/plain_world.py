"""The simulated world of the main job (``adapters.telephony.simulated``: its calls, its agents,
its seeded draws) driven by a plain progressive dialler of a few dicts: no store, no events, no
rules, no views. Its CPU per simulated day is the floor under the real engine's in bench/pacing
(issue 18: "a plain simulation of the same world").
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import simpy

from adapters.telephony.simulated import SimulatedAgents, SimulatedTelephony, SimulationDriver, VirtualClock, WorldParams
from dialer_domain.model.values import SIMULATED_DISPOSITIONS, AgentState, DialMode
from dialer_domain.service_layer.ports import CallReport, CallRequest, ReportKind


class PlainDialler:
    """Just enough of the Dialler for the simulated world: one call per ready agent, the answer
    bridged to that agent, wrap-up after the talk, Ready again after the disposition."""

    def __init__(self, telephony: SimulatedTelephony, people: SimulatedAgents, clock: VirtualClock, agents: list[str]) -> None:
        self.telephony, self.people, self.clock = telephony, people, clock
        self.sessions = {a: SimpleNamespace(state=AgentState.READY, offer_id=None) for a in agents}
        self.calls: dict[UUID, str] = {}  # call -> the agent it is for
        self.dialled = 0
        self.mode = SimpleNamespace(dial_mode=DialMode.PROGRESSIVE)

    def campaign(self, _: UUID) -> Any:
        return self.mode

    def agent(self, agent_id: str) -> Any:
        return self.sessions[agent_id]

    def next_due(self) -> datetime | None:
        return None

    def tick(self, *, periodic: bool = True) -> None:
        busy = set(self.calls.values())
        for a, s in self.sessions.items():
            if s.state is AgentState.READY and a not in busy:
                call = uuid4()
                self.calls[call] = a
                self.dialled += 1
                self.telephony.place_call(CallRequest(call, "+4520000000", "+4570123456", "Plain", 25, 3600, False))

    def on_report(self, r: CallReport) -> None:
        if r.call_id is None or r.call_id not in self.calls:
            return
        a = self.calls[r.call_id]
        if r.kind is ReportKind.ANSWERED_HUMAN:
            self.sessions[a].state = AgentState.TALKING
            self.telephony.bridge(r.call_id, a)
        elif r.kind is ReportKind.ANSWERED_MACHINE:
            del self.calls[r.call_id]
            self.telephony.hang_up(r.call_id, "machine")
        elif r.kind is ReportKind.COMPLETED:
            del self.calls[r.call_id]
            self.sessions[a].state = AgentState.WRAP_UP
            self.people.wrapup_started(a, r.call_id, self.clock.now() + timedelta(seconds=600))
        elif r.kind is not ReportKind.RINGING:
            del self.calls[r.call_id]
        self.tick()

    def dispose(self, agent_id: str, code: str, callback_at: datetime | None = None, *, then_ready: bool = False) -> None:
        if then_ready:
            self.ready(agent_id)

    def ready(self, agent_id: str) -> None:
        self.sessions[agent_id].state = AgentState.READY
        self.tick()

    def log_out(self, agent_id: str, by: str = "") -> None:
        self.sessions[agent_id].state = AgentState.LOGGED_OUT


def plain_world_cpu(agents: int, hours: float, seed: int) -> tuple[float, int]:
    """CPU seconds of one plain simulated day of ``hours`` (and the calls it placed)."""
    started = time.process_time()
    rng = random.Random(seed)
    env = simpy.Environment()
    clock = VirtualClock(env, datetime(2026, 11, 23, 8, tzinfo=UTC))
    world = WorldParams()
    telephony = SimulatedTelephony(env, random.Random(rng.getrandbits(64)), world, clock)
    people = SimulatedAgents(env, random.Random(rng.getrandbits(64)), world, tuple(d.code for d in SIMULATED_DISPOSITIONS))
    engine = PlainDialler(telephony, people, clock, [f"plain-{i}" for i in range(agents)])
    driver = SimulationDriver(env, engine)  # type: ignore[arg-type]
    people.engine = engine  # type: ignore[assignment]
    telephony.sink = people.driver = driver
    env.process(driver.ticking(1.0, hours * 3600))
    env.run(until=hours * 3600)
    return time.process_time() - started, engine.dialled
