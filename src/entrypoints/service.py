"""The live service: the dialler on the wall clock, as one writer on its own thread (ADR 0012).

Everything that changes the dialler reaches it through this thread, in arrival order: commands
from the HTTP API (agents, supervisors), telephony reports (an inbox any thread may report into),
and its own timers and periodic top-up. The HTTP threads wait for their command's result (or its
error) and never touch the dialler themselves.

With simulated telephony the simulated world runs on this thread too, on a simpy environment that
this loop advances to the wall clock (``speed`` times faster if asked), so that a new user can
watch a campaign dial with simulated callees and, if asked, simulated agents ("bots") beside the
people who log in.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import simpy

from adapters.persistence.eventstore import RecorderEventStore
from adapters.telephony.inbox import ReportInbox
from adapters.telephony.simulated import SimulatedAgents, SimulatedTelephony, SimulationDriver, VirtualClock, WorldParams
from dialer_domain.model.values import SIMULATED_DISPOSITIONS, AgentState
from dialer_domain.service_layer.dialler_core import screen_pop
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.ports import CallReport, ScreenPop, Telephony
from entrypoints import bootstrap

T = TypeVar("T")

#: The most reports one drain of the inbox acts on as one step (one append).
REPORT_BATCH = 500
log = logging.getLogger(__name__)
#: The subscribers' key of the supervisors' stream: never an agent id (those refuse control characters).
SUPERVISORS = "\x00supervisors"


class LiveDesktop:
    """The AgentDesktop port for people: what the dialler tells an agent goes to that agent's
    subscribers (the live-update streams), as plain JSON-ready dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[queue.SimpleQueue[dict[str, Any]]]] = defaultdict(list)

    def subscribe(self, agent_id: str) -> queue.SimpleQueue[dict[str, Any]]:
        q: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        with self._lock:
            self._subscribers[agent_id].append(q)
        return q

    def unsubscribe(self, agent_id: str, q: queue.SimpleQueue[dict[str, Any]]) -> None:
        with self._lock:
            if q in self._subscribers.get(agent_id, []):
                self._subscribers[agent_id].remove(q)

    def publish_supervisors(self, event: dict[str, Any]) -> None:
        self.publish(SUPERVISORS, event)

    def publish(self, agent_id: str, event: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subscribers.get(agent_id, []))
        for q in targets:
            q.put(event)

    def offered(self, agent_id: str, offer_id: uuid.UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        offer = {"type": "offer", "offer_id": str(offer_id), "expires_at": expires_at.isoformat(), "auto_answer": auto_answer}
        self.publish(agent_id, {**offer, "contact": pop.as_dict()})

    def connected(self, agent_id: str, call_id: uuid.UUID, pop: ScreenPop) -> None:
        self.publish(agent_id, {"type": "connected", "call_id": str(call_id), "contact": pop.as_dict()})

    def wrapup_started(self, agent_id: str, call_id: uuid.UUID, until: datetime) -> None:
        self.publish(agent_id, {"type": "wrapup", "call_id": str(call_id), "until": until.isoformat()})


class RoutingDesktop:
    """Simulated agents' screens go to the simulated agents; everyone else's to the live streams."""

    def __init__(self, people: LiveDesktop, bots: SimulatedAgents | None) -> None:
        self.people = people
        self.bots = bots
        self.bot_ids: set[str] = set()

    def _for(self, agent_id: str) -> Any:
        return self.bots if self.bots is not None and agent_id in self.bot_ids else self.people

    def offered(self, agent_id: str, offer_id: uuid.UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        self._for(agent_id).offered(agent_id, offer_id, pop, expires_at, auto_answer)

    def connected(self, agent_id: str, call_id: uuid.UUID, pop: ScreenPop) -> None:
        self._for(agent_id).connected(agent_id, call_id, pop)

    def wrapup_started(self, agent_id: str, call_id: uuid.UUID, until: datetime) -> None:
        self._for(agent_id).wrapup_started(agent_id, call_id, until)


class TeeDesktop:
    """Tells every desktop (the agents' screens, and a CRM when one is configured)."""

    def __init__(self, *desktops: Any) -> None:
        self.desktops = desktops

    def offered(self, agent_id: str, offer_id: uuid.UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        for d in self.desktops:
            d.offered(agent_id, offer_id, pop, expires_at, auto_answer)

    def connected(self, agent_id: str, call_id: uuid.UUID, pop: ScreenPop) -> None:
        for d in self.desktops:
            d.connected(agent_id, call_id, pop)

    def wrapup_started(self, agent_id: str, call_id: uuid.UUID, until: datetime) -> None:
        for d in self.desktops:
            d.wrapup_started(agent_id, call_id, until)


def _watch_event(key: str, value: Any) -> dict[str, Any]:
    kind, _, name = key.partition(":")
    if kind == "agent":
        return {"type": "agent", "agent": name, "state": value}
    status, queued, calls, rate, refused = value
    return {
        "type": "campaign",
        "campaign": name,
        "status": status,
        "queued": queued,
        "calls": calls,
        "abandon_rate_24h": rate,
        "refused_24h": refused,
    }


class ServiceStopped(RuntimeError):
    """The service is stopping or stopped: it takes no more commands."""


class LiveService:
    def __init__(
        self,
        store: RecorderEventStore,
        *,
        telephony: str = "simulated",
        speed: float = 1.0,
        world: WorldParams | None = None,
        seed: int | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.speed = speed
        self.tick_seconds = tick_seconds
        self.people = LiveDesktop()
        self.inbox = ReportInbox()
        self._commands: queue.SimpleQueue[tuple[Callable[[Dialler], Any], Future[Any]]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._draining = False
        rng = random.Random(seed)
        self.env: simpy.Environment | None = None
        self.driver: SimulationDriver | None = None
        bots: SimulatedAgents | None = None
        tel: Telephony
        if telephony == "simulated":
            self.env = simpy.Environment()
            clock: Any = VirtualClock(self.env, datetime.now(UTC))
            world = world or WorldParams()
            sim = SimulatedTelephony(self.env, random.Random(rng.getrandbits(64)), world, clock)
            bots = SimulatedAgents(self.env, random.Random(rng.getrandbits(64)), world, tuple(d.code for d in SIMULATED_DISPOSITIONS))
            tel = sim
        else:
            clock = bootstrap.WallClock()
            tel = bootstrap.telephony(self.inbox)
        self.desktop = RoutingDesktop(self.people, bots)
        self.crm = bootstrap.crm_webhook()  # R9's screen pop to a CRM, when DIALER_CRM_WEBHOOK_URL is set
        desktop: Any = self.desktop if self.crm is None else TeeDesktop(self.desktop, self.crm)
        self.telephony = tel
        config = bootstrap.engine_config()
        self.engine = bootstrap.dialler(store, tel, clock, uuid.uuid4, desktop=desktop, queue=bootstrap.queue(store), config=config)
        if self.env is not None:
            assert bots is not None
            self.driver = SimulationDriver(self.env, self.engine)
            sim.sink = self.driver
            bots.engine = self.engine
            bots.driver = self.driver
            self.bots = bots
        self._watched: dict[str, Any] = {}
        self._watched_at = 0.0
        self._thread = threading.Thread(target=self._run, name="dialler", daemon=True)

    # ------------------------------------------------------------------ from any thread

    def start(self) -> None:
        """Start the dialler's thread (again: nothing)."""
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._thread.start()

    def call(self, fn: Callable[[Dialler], T], timeout: float = 30.0) -> T:
        """Run ``fn(dialler)`` on the dialler's thread and return its result (or raise its error)."""
        if self._stop.is_set() or self._draining:
            raise ServiceStopped("the dialler is stopping; it takes no more commands")
        future: Future[T] = Future()
        self._commands.put((fn, future))
        return future.result(timeout)

    def add_bots(self, count: int, skills: tuple[str, ...]) -> list[str]:
        """Simulated agents who log in, take offers, talk, wrap up and dispose by themselves."""
        if self.env is None:
            raise ValueError("simulated agents need simulated telephony")

        ids = self.register_bots(count)
        return self.call(lambda engine: self._log_in_bots(engine, ids, skills))

    def register_bots(self, count: int) -> list[str]:
        """Route the simulated agents' screens to them (before the dialler starts, so that no offer
        made to a bot after a restart goes astray)."""
        ids = [f"bot-{i + 1:02d}" for i in range(count)]
        self.desktop.bot_ids.update(ids)
        return ids

    def _log_in_bots(self, engine: Dialler, ids: list[str], skills: tuple[str, ...]) -> list[str]:
        for n, agent in enumerate(ids, start=1):
            s = engine.agents.get(agent)
            if s is None or not s.logged_in:
                engine.log_in(agent, name=f"Bot {n}", skills=skills)
            if engine.agent(agent).state in (AgentState.PAUSED, AgentState.WRAP_UP):
                engine.ready(agent)  # a bot offered a call already (after a restart) takes it as offered
        return ids

    def stop(self, drain_seconds: float = 60.0) -> None:
        """Graceful stop: no new dials; calls in progress end (or the drain time runs out); the
        simulated agents log out; then the thread ends. Idempotent."""
        if self._stopped.is_set():
            return
        if self._thread.is_alive():
            future: Future[None] = Future()
            self._commands.put((self._begin_drain, future))
            future.result(30)
            self._draining = True
            deadline = time.monotonic() + drain_seconds
            while time.monotonic() < deadline and self._peek(lambda e: e.calls_in_flight()) > 0:
                time.sleep(0.05)
            self._peek(self._log_out_bots)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        if self.crm is not None:
            self.crm.close()
        self._stopped.set()

    def _peek(self, fn: Callable[[Dialler], T]) -> T:
        future: Future[T] = Future()
        self._commands.put((fn, future))
        return future.result(30)

    # ------------------------------------------------------------------ the dialler's thread

    def _begin_drain(self, engine: Dialler) -> None:
        engine.draining = True

    def _log_out_bots(self, engine: Dialler) -> None:
        if self.env is not None:
            self.bots.stopping = True
        for agent in sorted(self.desktop.bot_ids):
            s = engine.agents.get(agent)
            if s is not None and s.logged_in and s.state is not AgentState.TALKING:
                engine.log_out(agent, by="service stopping")

    def _run(self) -> None:
        self.engine.sync()
        recovered = self._guard(self.engine.recover)  # what an earlier process left in progress (after a crash)
        started = time.monotonic()
        last_tick = tried = 0.0
        while not self._stop.is_set():
            if not recovered and time.monotonic() - tried >= 0.5:  # tried again (a locked database) before any dialling
                tried = time.monotonic()
                recovered = self._guard(self.engine.recover)
            if self.env is not None:
                target = (time.monotonic() - started) * self.speed
                if target > float(self.env.now):
                    self.env.run(until=target)
            now = time.monotonic()
            periodic = now - last_tick >= self.tick_seconds / max(self.speed, 1e-9)
            if recovered and (periodic or self._due()):  # the periodic tick, or a wake-up for a timer that came due
                if periodic:
                    last_tick = now
                self._guard(partial(self.engine.tick, periodic=periodic))
            reports: list[CallReport] = []  # what came in since the last drain: one step, one append (a group commit)
            self.inbox.drain(reports.append, limit=REPORT_BATCH)
            if reports:
                self._guard(partial(self.engine.on_reports, reports))
            self._run_commands(wait=0.02)
            if time.monotonic() - self._watched_at >= 0.5:
                self._publish_changes()

    def _publish_changes(self) -> None:
        """The supervisors' stream: each agent's state when it changes, each campaign's queue depth,
        calls in progress, 24-hour abandon rate and dials refused in 24 hours when they change
        (looked at twice a second on the dialler's thread)."""
        self._watched_at = time.monotonic()
        now: dict[str, Any] = {f"agent:{a}": s.state.value for a, s in self.engine.agents.items()}
        calls = Counter(call.campaign_id for call in self.engine.calls.values())
        for c in self.engine.campaigns.values():
            if c.settings is not None:
                seen = self.engine.compliance_now(c, self.engine.now)
                refused = seen["refused_24h"]
                assert isinstance(refused, dict)
                depth = (c.status.value, self.engine.queue.queued_count(c.id), calls[c.id])
                now[f"campaign:{c.name}"] = (*depth, seen.get("abandon_rate_24h"), sum(refused.values()))
        for key, value in now.items():
            if self._watched.get(key) != value:
                self.people.publish_supervisors(_watch_event(key, value))
        self._watched = now

    def agent_snapshot(self, agent_id: str) -> list[dict[str, Any]]:
        """What an agent's stream starts with: their state, and the offer or call they have now
        (with its screen pop), so that a stream opened late misses nothing."""

        def look(engine: Dialler) -> list[dict[str, Any]]:
            s = engine.agents.get(agent_id)
            if s is None:
                return []
            out: list[dict[str, Any]] = [{"type": "state", "state": s.state.value}]
            if s.state is AgentState.OFFERED and s.offer_id and s.offer_contact and s.offer_campaign and s.offer_expires_at:
                c = engine.campaign(s.offer_campaign)
                pop = screen_pop(c, engine.contact(s.offer_contact))
                expires = s.offer_expires_at.isoformat()
                offer = {"type": "offer", "offer_id": str(s.offer_id), "expires_at": expires, "auto_answer": c.config.auto_answer}
                out.append({**offer, "contact": pop.as_dict()})
            elif s.state is AgentState.TALKING and s.call_id and s.call_contact and s.call_campaign:
                pop = screen_pop(engine.campaign(s.call_campaign), engine.contact(s.call_contact))
                out.append({"type": "connected", "call_id": str(s.call_id), "contact": pop.as_dict()})
            return out

        return self.call(look)

    def supervisor_snapshot(self) -> list[dict[str, Any]]:
        """What a supervisor who starts watching sees first: every agent's and campaign's state."""
        return self.call(lambda _: [_watch_event(k, v) for k, v in sorted(self._watched.items())])

    def _due(self) -> bool:
        due = self.engine.next_due()
        return due is not None and due <= self.engine.clock.now()

    def _run_commands(self, wait: float) -> None:
        try:
            fn, future = self._commands.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(self.engine)
                except BaseException as exc:  # the caller gets the error; the loop goes on
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                if self.driver is not None:
                    self.driver.arm()
            try:
                fn, future = self._commands.get_nowait()
            except queue.Empty:
                return

    def _guard(self, step: Callable[[], object]) -> bool:
        """A step of the dialler's own (a tick, a report) that fails is logged and the loop goes on:
        the step was undone whole (ADR 0008), and the next tick tries again on fresh state."""
        try:
            step()
        except Exception as exc:
            import logging

            logging.getLogger(__name__).exception("a dialler step failed and was undone: %s", type(exc).__name__)
            return False
        return True
