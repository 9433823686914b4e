"""Ports: every way the core reaches the world, in one module. Adapters implement these
Protocols: the event store, the clock, telephony, the agents' desktops, the queue view the dialler
reads, and the list index an import keeps."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid5

import attrs

from dialer_domain.events import DomainEvent
from dialer_domain.values import ContactData

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


class QueueView(Protocol):
    """What the engine asks of the queue (R4, R11). An implementation may be a view kept elsewhere
    that lags the log: the engine checks every contact against its aggregate, the authority, before
    it queues or dials it, so a stale answer costs a skipped contact, never a second dial."""

    #: True if the view is a fold the engine must feed with the whole log on start (in memory);
    #: False if it keeps its own position (persisted), so the engine's start reads only campaigns and agents.
    replays_log: bool

    def observe(self, batch: Sequence[RecordedEvent]) -> None:
        """Events the engine has committed or read, in log order."""
        ...

    def take_due(self, campaign_id: UUID, now: datetime, limit: int, agent_owned: bool = False) -> list[UUID]:
        """Up to ``limit`` list contacts of the campaign due by ``now``, in R11 order
        (``agent_owned``: only contacts assigned to an agent)."""
        ...

    def next_queued(self, campaign_id: UUID, agent_id: str | None = None, exclude: frozenset[UUID] = frozenset()) -> UUID | None:
        """The first queued contact in R11 order (an agent's own, for auto mode), not in ``exclude``."""
        ...

    def queued(self, campaign_id: UUID) -> list[UUID]: ...

    def queued_count(self, campaign_id: UUID) -> int: ...


class ListIndex(Protocol):
    """Which keys the campaign's list already holds, and which this import has seen (an adapter
    keeps these on disk so that memory stays flat for any list size)."""

    def contains(self, key: str) -> bool: ...

    def mark_seen(self, key: str) -> None: ...

    def unseen(self) -> Iterator[str]: ...


@attrs.frozen
class ScreenPop:
    """What an agent's desktop (or a CRM) shows about a contact (R9)."""

    campaign_id: UUID
    contact_id: UUID
    key: str
    data: ContactData
    numbers: tuple[str, ...]
    attempts: int


class AgentDesktop(Protocol):
    """The agents' side: offers, screen pops and wrap-up, as the engine decides them."""

    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None: ...

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None: ...

    def wrapup_started(self, agent_id: str, call_id: UUID, until: datetime) -> None: ...


class NoDesktop:
    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: datetime, auto_answer: bool) -> None:
        pass

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None:
        pass

    def wrapup_started(self, agent_id: str, call_id: UUID, until: datetime) -> None:
        pass


IdFactory = Callable[[], UUID]


def seeded_ids(seed: int) -> IdFactory:
    """Deterministic ids from a seeded generator (simulations, tests)."""
    rng = random.Random(seed)

    def make() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    return make
