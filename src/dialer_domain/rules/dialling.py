"""How the dialler keeps its queue fed and shares its agents (R4, R2, R17), as plain functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")

#: R4: enough contacts queued to keep every logged-in agent busy until the next periodic top-up.
QUEUED_PER_AGENT = 8
MIN_QUEUED = 10


def queue_target(logged_in_agents: int) -> int:
    """How many contacts a campaign keeps queued for its logged-in agents (none without agents)."""
    return max(MIN_QUEUED, QUEUED_PER_AGENT * logged_in_agents) if logged_in_agents > 0 else 0


def first_waiting_answer(waiting: Iterable[tuple[T, int, datetime]]) -> T | None:
    """R17: of the human answers waiting for an agent (call, campaign priority, answered at) that
    an agent who just became free can take, the one from the higher-priority campaign, then the
    oldest. None if there is none."""
    best: T | None = None
    best_key: tuple[int, float] | None = None
    for call, priority, answered_at in waiting:
        key = (-priority, answered_at.timestamp())
        if best_key is None or key < best_key:
            best, best_key = call, key
    return best


def progressive_excess(ringing_oldest_first: Sequence[T], answers_waiting: int, ready_agents: int) -> list[T]:
    """R2 progressive: one call in flight per ready agent. When that no longer holds (a ready agent
    left), the youngest unanswered calls beyond it are the ones to cancel (not an attempt), newest
    first, rather than letting them become silent calls."""
    excess = len(ringing_oldest_first) + answers_waiting - ready_agents
    cut = max(0, min(excess, len(ringing_oldest_first)))
    return list(reversed(ringing_oldest_first[len(ringing_oldest_first) - cut :]))


def needs_machine_detection(agent_id: str | None) -> bool:
    """A contact-first call (no agent reserved) asks the network to detect answering machines, so
    that only people reach agents; an agent-first call puts the agent on the line, who hears it."""
    return agent_id is None


def abandon_message(caller_id_name: str, caller_id_number: str) -> str:
    """R17: what a contact hears when no agent is free: who called and a number to call back."""
    who = caller_id_name.strip() or "us"
    back = f" Please call us back on {caller_id_number}." if caller_id_number else ""
    return f"This was a call from {who}. We are sorry that no one was free to take it.{back} Goodbye."
