"""The Telephony port's contract, written once (issue 14). Each backend gives a harness that
places a call and makes the far end behave one way (an outcome); the suite checks the reports the
adapter sends its sink, as the dialler's report gate admits them, and that a duplicate, a late and
an out-of-order report change nothing. Backends: tests/integration/test_telephony_contract.py."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest

from dialer_domain.service_layer.call_reports import ReportGate
from dialer_domain.service_layer.ports import CallReport, CallRequest, ReportKind
from tests.conftest import wait_until

K = ReportKind

#: outcome -> the kinds the gate admits, in order (a leading RINGING is optional where a network
#: may refuse before it rings)
EXPECTED: dict[str, tuple[ReportKind, ...]] = {
    "answer then hang up": (K.RINGING, K.ANSWERED_HUMAN, K.COMPLETED),
    "machine": (K.RINGING, K.ANSWERED_MACHINE),
    "busy": (K.BUSY,),
    "no answer": (K.RINGING, K.NO_ANSWER),
    "rejected": (K.RINGING, K.REJECTED),
    "invalid number": (K.INVALID_NUMBER,),
    "failed": (K.FAILED,),
}
OPTIONAL_RINGING = {"busy", "invalid number", "failed"}
#: how a call the network remembers may have ended (``Telephony.fate``)
EXPECTED_ENDS = frozenset({K.BUSY, K.NO_ANSWER, K.REJECTED, K.INVALID_NUMBER, K.FAILED, K.COMPLETED})


class GatedSink:
    """A ReportSink that records everything it is told and what the dialler's gate admits."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[CallReport] = []
        self.admitted: list[CallReport] = []
        self.gate = ReportGate()

    def report(self, report: CallReport) -> None:
        with self.lock:
            self.received.append(report)
            if self.gate.admit(report):
                self.admitted.append(report)

    def kinds(self, call_id: uuid.UUID) -> tuple[ReportKind, ...]:
        """The call's stages as admitted (the network's name for the call is not a stage: ``names``)."""
        with self.lock:
            return tuple(r.kind for r in self.admitted if r.call_id == call_id and r.kind is not K.PLACED)

    def names(self, call_id: uuid.UUID) -> list[str]:
        with self.lock:
            return [r.network_call_id for r in self.received if r.call_id == call_id and r.kind is K.PLACED]

    def leg_kinds(self, agent_id: str) -> tuple[ReportKind, ...]:
        with self.lock:
            return tuple(r.kind for r in self.admitted if r.call_id is None and r.agent_id == agent_id)

    def last(self, call_id: uuid.UUID) -> CallReport:
        with self.lock:
            return [r for r in self.received if r.call_id == call_id][-1]


def request(number: str = "+4520000001", *, ring: int = 20, detect_machine: bool = True) -> CallRequest:
    return CallRequest(
        call_id=uuid.uuid4(),
        number=number,
        caller_id_number="+4570000000",
        caller_id_name="Win-back",
        max_ring_seconds=ring,
        max_call_seconds=600,
        detect_machine=detect_machine,
    )


class Harness:
    """What a backend gives the suite."""

    sink: GatedSink
    telephony: object
    #: the adapter reports the network's name for each call it places (PLACED)
    names_calls: bool = False
    #: asked by that name after a restart, the adapter can say what became of a call
    knows_fates: bool = False

    def place(self, outcome: str) -> uuid.UUID:
        """Place a call whose far end will behave as ``outcome``; return its id."""
        raise NotImplementedError

    def after_answer(self, call_id: uuid.UUID, agent_id: str) -> None:
        """An answered human: bridge to the agent's leg, then the far end hangs up."""
        raise NotImplementedError

    def redeliver(self, report: CallReport) -> None:
        """Send a report again through the adapter's own intake (as the network repeats it)."""
        raise NotImplementedError

    def open_leg(self, agent_id: str) -> None:
        raise NotImplementedError

    def agent_hangs_up(self, agent_id: str) -> None:
        raise NotImplementedError

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        wait_until(condition, timeout=60, what=what)

    def place_for_hold(self) -> uuid.UUID:
        """A call a person answers, who stays on until put on hold and taken off it."""
        return self.place("answer then hang up")

    def connect(self, call_id: uuid.UUID, agent_id: str) -> None:
        """Bridge the answered call to the agent's leg (and nothing more)."""
        self.telephony.bridge(call_id, agent_id)  # type: ignore[attr-defined]

    def on_hold(self, call_id: uuid.UUID) -> bool | None:
        """Whether the network has the contact on hold now (None: it never had)."""
        raise NotImplementedError

    def far_end_hangs_up(self, call_id: uuid.UUID) -> None:
        """The person hangs up (where the far end does not by itself)."""


class TelephonyContract:
    """A subclass gives the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> Harness:
        raise NotImplementedError

    def finish(self, h: Harness, outcome: str) -> uuid.UUID:
        call = h.place(outcome)
        expected = EXPECTED[outcome]
        if outcome == "answer then hang up":
            h.wait(lambda: K.ANSWERED_HUMAN in h.sink.kinds(call), f"{outcome}: the answer")
            h.after_answer(call, "agent-1")
        h.wait(lambda: expected[-1] in h.sink.kinds(call), f"{outcome}: {expected[-1].value}")
        return call

    @pytest.mark.parametrize("outcome", list(EXPECTED))
    def test_each_outcome_is_reported_in_order(self, harness, outcome):
        call = self.finish(harness, outcome)
        got = harness.sink.kinds(call)
        expected = EXPECTED[outcome]
        if outcome in OPTIONAL_RINGING and got[:1] == (K.RINGING,):
            got = got[1:]
        assert got == expected
        assert all(r.at.tzinfo is not None for r in harness.sink.received)  # time-stamped, with a zone

    def test_a_duplicate_report_is_admitted_once(self, harness):
        call = self.finish(harness, "no answer")
        before = harness.sink.kinds(call)
        harness.redeliver(harness.sink.last(call))
        assert harness.sink.kinds(call) == before

    def test_a_late_report_after_the_end_changes_nothing(self, harness):
        call = self.finish(harness, "busy")
        before = harness.sink.kinds(call)
        late = CallReport(K.RINGING, harness.sink.last(call).at, call_id=call)
        harness.redeliver(late)
        assert harness.sink.kinds(call) == before

    def test_an_out_of_order_pair_keeps_the_later_stage(self, harness):
        call = self.finish(harness, "machine")
        ringing = next(r for r in harness.sink.received if r.call_id == call and r.kind is K.RINGING)
        harness.redeliver(ringing)  # ringing arrives again after the answer
        assert harness.sink.kinds(call) == EXPECTED["machine"]

    def test_a_placed_call_is_named_once_and_its_fate_can_be_asked(self, harness):
        call = self.finish(harness, "answer then hang up")
        if not harness.names_calls:
            assert harness.sink.names(call) == []
            assert harness.telephony.fate(call, "unknown-call") is None
            return
        harness.wait(lambda: harness.sink.names(call) != [], "the network's name for the call")
        names = harness.sink.names(call)
        assert len(names) == 1 and names[0]
        fate = harness.telephony.fate(call, names[0])
        if harness.knows_fates:
            assert fate is not None and fate.detail and (fate.end is None or fate.end in EXPECTED_ENDS)
        else:
            assert fate is None

    def test_a_contact_put_on_hold_and_taken_off_stays_in_the_call_until_it_ends(self, harness):
        call = harness.place_for_hold()
        harness.wait(lambda: K.ANSWERED_HUMAN in harness.sink.kinds(call), "the answer")
        harness.connect(call, "agent-1")
        harness.telephony.hold(call, "agent-1", True)
        harness.wait(lambda: harness.on_hold(call) is True, "the network to hold the contact")
        assert K.COMPLETED not in harness.sink.kinds(call)  # on hold, not gone
        harness.telephony.hold(call, "agent-1", False)
        harness.wait(lambda: harness.on_hold(call) is False, "the network to take the contact off hold")
        harness.far_end_hangs_up(call)
        harness.wait(lambda: K.COMPLETED in harness.sink.kinds(call), "the end of the call")
        assert harness.sink.kinds(call).count(K.COMPLETED) == 1

    def test_an_agent_leg_is_held_and_its_hang_up_reported_once(self, harness):
        harness.open_leg("agent-7")
        harness.wait(lambda: K.AGENT_LEG_UP in harness.sink.leg_kinds("agent-7"), "the agent's leg up")
        harness.agent_hangs_up("agent-7")
        harness.wait(lambda: K.AGENT_LEG_ENDED in harness.sink.leg_kinds("agent-7"), "the agent's leg ended")
        assert harness.sink.leg_kinds("agent-7") == (K.AGENT_LEG_UP, K.AGENT_LEG_ENDED)
