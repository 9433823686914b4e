"""Upcasters: how a stored event of an older schema version becomes the next version's state
(ADR 0002). Each takes the stored state (a dict) and returns the state of version + 1; the event
store runs them in order from the stored version up to the class's ``VERSION``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _upcast_agent_paused_v1(state: dict[str, Any]) -> dict[str, Any]:
    """AgentPaused v1 had one free-text ``reason``; v2 splits a code from a note."""
    from dialer_domain.model.values import PAUSE_REASONS

    reason = str(state.pop("reason", "") or "")
    code = reason.strip().lower().replace(" ", "_")
    state["reason_code"] = code if code in PAUSE_REASONS else "other"
    state["note"] = "" if code in PAUSE_REASONS else reason
    return state


#: (event name, from version) -> function giving the state of version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("AgentPaused", 1): _upcast_agent_paused_v1,
}
