"""The Telephony port as a fake for tests: it records every command and lets the test play the
network (ring, answer, end, an agent's leg up or hung up), reporting to its sink like a real
adapter. It keeps the same contract as the simulated world, Twilio and SIP
(tests/integration/test_telephony_contract.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from dialer_domain.service_layer.ports import CallFate, CallReport, CallRequest, ReportKind, ReportSink


class FakeTelephony:
    def __init__(self, sink: ReportSink | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.sink = sink
        self.now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self.requests: dict[UUID, CallRequest] = {}
        self.placed: list[UUID] = []
        self.numbers: dict[UUID, str] = {}
        self.hung_up: list[tuple[UUID, str]] = []
        self.connected: list[tuple[UUID, str]] = []  # bridges: (call, agent)
        self.played: list[tuple[UUID, str]] = []  # abandoned-call messages
        self.legs: dict[str, str] = {}  # open agent legs: agent -> address
        self.closed_legs: list[str] = []
        self.fates: dict[str, CallFate] = {}  # what the network says of a call, by its network id (set by a test)
        self.asked: list[tuple[UUID, str]] = []  # fate questions: (call, network id)
        self.held: list[tuple[UUID, str, bool]] = []  # hold (True) and resume (False) commands
        self._sequence = 0

    # ------------------------------------------------------------------ the port

    def place_call(self, request: CallRequest) -> None:
        with self._lock:
            self.requests[request.call_id] = request
            self.placed.append(request.call_id)
            self.numbers[request.call_id] = request.number

    def open_agent_leg(self, agent_id: str, address: str) -> None:
        with self._lock:
            self.legs[agent_id] = address

    def close_agent_leg(self, agent_id: str) -> None:
        with self._lock:
            if self.legs.pop(agent_id, None) is not None:
                self.closed_legs.append(agent_id)

    def bridge(self, call_id: UUID, agent_id: str) -> None:
        with self._lock:
            self.connected.append((call_id, agent_id))

    def play_and_hang_up(self, call_id: UUID, message: str) -> None:
        with self._lock:
            self.played.append((call_id, message))
            self.hung_up.append((call_id, "abandoned: no agent free"))

    def hang_up(self, call_id: UUID, reason: str) -> None:
        with self._lock:
            self.hung_up.append((call_id, reason))

    def hold(self, call_id: UUID, agent_id: str, on: bool) -> None:
        with self._lock:
            self.held.append((call_id, agent_id, on))

    def fate(self, call_id: UUID, network_call_id: str) -> CallFate | None:
        with self._lock:
            self.asked.append((call_id, network_call_id))
            return self.fates.get(network_call_id)

    # ------------------------------------------------------------------ the network, played by a test

    def report(self, kind: ReportKind, call_id: UUID | None = None, *, agent_id: str | None = None, detail: str = "") -> CallReport:
        with self._lock:
            self._sequence += 1
            r = CallReport(kind, self.now(), call_id=call_id, agent_id=agent_id, detail=detail, sequence=self._sequence)
        assert self.sink is not None, "the fake has no sink to report to"
        self.sink.report(r)
        return r

    def name(self, call_id: UUID, network_call_id: str) -> CallReport:
        """The network took the call and gave it ``network_call_id``."""
        with self._lock:
            r = CallReport(ReportKind.PLACED, self.now(), call_id=call_id, network_call_id=network_call_id)
        assert self.sink is not None, "the fake has no sink to report to"
        self.sink.report(r)
        return r

    def ring(self, call_id: UUID) -> CallReport:
        return self.report(ReportKind.RINGING, call_id)

    def answer(self, call_id: UUID, *, machine: bool = False) -> CallReport:
        kind = ReportKind.ANSWERED_MACHINE if machine else ReportKind.ANSWERED_HUMAN
        return self.report(kind, call_id, detail="machine_start" if machine else "human")

    def end(self, call_id: UUID, kind: ReportKind = ReportKind.COMPLETED, detail: str = "") -> CallReport:
        return self.report(kind, call_id, detail=detail)

    def leg_up(self, agent_id: str) -> CallReport:
        return self.report(ReportKind.AGENT_LEG_UP, agent_id=agent_id)

    def leg_hangs_up(self, agent_id: str) -> CallReport:
        return self.report(ReportKind.AGENT_LEG_ENDED, agent_id=agent_id)
