"""The dialler: pacing, ordering, callbacks and agents, for every campaign at once (R1-R6, R8,
R11-R17). It reads time from the clock port, stores events through the event-store port, places
calls through the telephony port and tells agents' desktops what to show through the desktop port.

Every public method is one step: it reads the clock once, changes aggregates, appends all their
events in one atomic append, feeds the committed events to its views, and only then acts on the
world (places or hangs up calls, pops screens). The in-memory views (campaigns, agents, the live
queue) are folds of the log: on start the engine replays the log, and events other writers append
(the CLI, the API, an import) reach it through ``sync``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from dialer_domain.service_layer.agent_steps import AgentSteps
from dialer_domain.service_layer.dialler_core import STEP_ATTEMPTS, DiallerCore, EngineConfig, LiveCall
from dialer_domain.values import AgentState, CallOutcome

__all__ = ["STEP_ATTEMPTS", "Dialler", "DiallerCore", "EngineConfig", "LiveCall"]


class Dialler(AgentSteps):
    """The dialler, whole: its core (``service_layer.dialler_core``), dialling and pacing
    (``dialling``), call progress (``call_progress``), the agents' side (``agent_steps``), and
    the timers that tie them together."""

    def _run_timers(self, now: datetime) -> None:
        t = now.timestamp()
        for kind, a, b in self.timers.due(now):
            if kind == "abandon":
                assert isinstance(a, UUID)
                call = self.waiting.get(a)
                if call is not None:
                    self._abandon(call, f"no agent free within {self.config.abandon_after_seconds:g}s", now)
            elif kind == "offer":
                assert isinstance(a, str) and b is not None
                s = self.agents.get(a)
                if s is not None and s.state is AgentState.OFFERED and s.offer_id == b:
                    self._release_offer(s, "offer not answered in time", now)
                    s.pause("not_ready", now, note="did not answer an offer")
                    self._touch(s)
            elif kind == "wrapup":
                assert isinstance(a, str)
                s = self.agents.get(a)
                if (
                    s is not None
                    and s.state is AgentState.WRAP_UP
                    and s.wrapup_until is not None
                    and s.wrapup_until.timestamp() <= t
                    and self.config.auto_ready_after_wrapup
                ):
                    self._record_wrapup(s, now)
                    s.ready(now, by="system: wrap-up time over")
                    self._touch(s)
                    self._agent_became_ready(s, now)
                elif s is not None and s.state is AgentState.WRAP_UP and s.wrapup_until is not None:
                    self._timer(s.wrapup_until, "wrapup", a)
            elif kind == "maxdur":
                assert isinstance(a, UUID)
                call = self.calls.get(a)
                if call is not None and call.connected:
                    self._hang_up(a, "maximum call duration reached")
                    self._finish_call(call, CallOutcome.COMPLETED, "cut at the maximum call duration", now)
            elif kind == "ring":
                assert isinstance(a, UUID)
                call = self.calls.get(a)
                if call is not None and call.answered_at is None:
                    self._hang_up(a, "no answer within the maximum ring time")
                    self._finish_call(call, CallOutcome.NO_ANSWER, "no answer within the maximum ring time", now)
