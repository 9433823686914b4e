"""Ports: the only ways the core reaches the world. Adapters implement these Protocols."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid5

import attrs

from dialer_domain.events import DomainEvent

#: Namespace of every derived id (campaign by name, contact by key, agent session by day).
NAMESPACE = UUID("6f1c5a52-7d0e-4d61-9a0b-4b9a3e2f8c11")


def campaign_id_for(name: str) -> UUID:
    return uuid5(NAMESPACE, f"campaign/{name.strip().casefold()}")


def contact_id_for(campaign_id: UUID, key: str) -> UUID:
    return uuid5(campaign_id, f"contact/{key}")


def agent_session_id_for(agent_id: str, day: str) -> UUID:
    return uuid5(NAMESPACE, f"agent/{agent_id}/{day}")


def pacing_log_id_for(campaign_id: UUID, day: str) -> UUID:
    return uuid5(campaign_id, f"pacing/{day}")


@attrs.frozen
class RecordedEvent:
    """An event with its position in the whole log (1, 2, 3 ... in commit order)."""

    position: int
    event: DomainEvent


class EventStore(Protocol):
    """Append-only store of event streams, one stream per aggregate id."""

    def append(self, events: Sequence[DomainEvent]) -> list[int]:
        """Append atomically. Each event's ``originator_version`` is the expected version + 1 of
        its stream; if another writer got there first, raise ``ConcurrencyError`` and store nothing.
        Returns the log positions given to the events."""
        ...

    def load(self, stream_id: UUID, *, up_to_version: int | None = None) -> list[DomainEvent]:
        """The stream's events in version order (empty if there is no such stream)."""
        ...

    def read(self, after: int = 0, limit: int = 1000, topics: Sequence[str] = ()) -> list[RecordedEvent]:
        """The log in order, from the first position greater than ``after``; only the events with
        these names (``NAME``) if ``topics`` is not empty."""
        ...

    def max_position(self) -> int: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Telephony(Protocol):
    """Places and ends calls. Progress comes back as calls into the engine
    (``on_call_progress`` / ``on_call_ended``)."""

    def place_call(
        self,
        *,
        call_id: UUID,
        number: str,
        caller_id_number: str,
        caller_id_name: str,
        max_ring_seconds: int,
        max_call_seconds: int,
    ) -> None: ...

    def connect_agent(self, *, call_id: UUID, agent_id: str) -> None: ...

    def hang_up(self, call_id: UUID, reason: str) -> None: ...


IdFactory = Callable[[], UUID]


def seeded_ids(seed: int) -> IdFactory:
    """Deterministic ids from a seeded generator (simulations, tests)."""
    rng = random.Random(seed)

    def make() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    return make
