"""Reports from telephony, made safe to act on: each call's reports are admitted once and in
order, whatever the network repeats, delays or reorders."""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

from dialer_domain.model.values import CallOutcome
from dialer_domain.service_layer.ports import CallReport, ReportKind

#: A call's stages: a report is admitted only if it is of a later stage than the last one.
STAGE = {
    ReportKind.RINGING: 1,
    ReportKind.ANSWERED_HUMAN: 2,
    ReportKind.ANSWERED_MACHINE: 2,
    ReportKind.BUSY: 3,
    ReportKind.NO_ANSWER: 3,
    ReportKind.REJECTED: 3,
    ReportKind.INVALID_NUMBER: 3,
    ReportKind.FAILED: 3,
    ReportKind.COMPLETED: 3,
}

#: What each report means to the contact's call.
OUTCOME = {kind: CallOutcome(kind.value) for kind in STAGE}


class ReportGate:
    """Admits each call's reports once and monotonically: ringing, then an answer, then one end.
    A repeated report, an earlier stage after a later one (reordered), and anything after the end
    (late) are refused. The network's name for a call (PLACED) is not a stage: it is admitted
    whenever it names one, and the contact records it once. An agent's leg: one 'up' and one 'ended' per opening of the leg. The last
    ``remember`` calls are remembered, so a report later than that many calls is refused only by
    the dialler's own state (it no longer knows the call)."""

    def __init__(self, remember: int = 100_000) -> None:
        self.remember = remember
        self._stage: OrderedDict[UUID, int] = OrderedDict()
        self._legs: dict[str, ReportKind] = {}

    def admit(self, report: CallReport) -> bool:
        if report.call_id is None:
            return self._admit_leg(report)
        if report.kind is ReportKind.PLACED:  # the network's name for the call: recorded once by the contact
            return bool(report.network_call_id)
        stage = STAGE.get(report.kind)
        if stage is None:
            return False  # a leg's report about a contact's call: not ours to act on
        last = self._stage.get(report.call_id, 0)
        if stage <= last:
            return False
        self._stage[report.call_id] = stage
        self._stage.move_to_end(report.call_id)
        while len(self._stage) > self.remember:
            self._stage.popitem(last=False)
        return True

    def leg_opened(self, agent_id: str) -> None:
        """A new leg for the agent: its 'up' and 'ended' are admitted again."""
        self._legs.pop(agent_id, None)

    def _admit_leg(self, report: CallReport) -> bool:
        if report.agent_id is None or report.kind not in (ReportKind.AGENT_LEG_UP, ReportKind.AGENT_LEG_ENDED):
            return False
        last = self._legs.get(report.agent_id)
        if last is ReportKind.AGENT_LEG_ENDED or last is report.kind:
            return False
        self._legs[report.agent_id] = report.kind
        return True
