"""Loading aggregates from an event store and saving what they recorded, plus a plain in-memory
store for unit tests (the adapters' stores pass the same contract suite)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from dialer_domain.aggregate import Aggregate
from dialer_domain.errors import ConcurrencyError, NotFound
from dialer_domain.events import DomainEvent
from dialer_domain.ports import EventStore, RecordedEvent

A = TypeVar("A", bound=Aggregate)


class Repository:
    """Loads aggregates by folding their streams and saves their pending events in one append."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        events = self.store.load(aggregate_id)
        if not events:
            raise NotFound(f"no {cls.__name__} with id {aggregate_id}")
        return cls.replay(aggregate_id, events)

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        events = self.store.load(aggregate_id)
        return cls.replay(aggregate_id, events) if events else None

    def save(self, *aggregates: Aggregate) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        for agg in aggregates:
            events.extend(agg.pending_events)
        if events:
            self.store.append(events)
        for agg in aggregates:
            agg.collect_events()
        return events


def iter_log(store: EventStore, after: int = 0, page: int = 5000, **read_options: Any) -> Iterator[RecordedEvent]:
    """The whole log from ``after``, read a page at a time (options such as a topic filter go to
    the store's ``read``)."""
    position = after
    while True:
        batch = store.read(position, page, **read_options)
        if not batch:
            return
        yield from batch
        position = batch[-1].position


class InMemoryEventStore:
    """A list of events with the EventStore contract: for unit tests and nothing else."""

    def __init__(self) -> None:
        self._log: list[DomainEvent] = []
        self._streams: dict[UUID, list[DomainEvent]] = {}

    def append(self, events: Sequence[DomainEvent]) -> list[int]:
        heads: dict[UUID, int] = {}
        for e in events:
            head = heads.get(e.originator_id, len(self._streams.get(e.originator_id, ())))
            if e.originator_version != head + 1:
                raise ConcurrencyError(f"stream {e.originator_id} is at version {head}; cannot append version {e.originator_version}")
            heads[e.originator_id] = e.originator_version
        positions = []
        for e in events:
            self._streams.setdefault(e.originator_id, []).append(e)
            self._log.append(e)
            positions.append(len(self._log))
        return positions

    def load(self, stream_id: UUID, *, up_to_version: int | None = None) -> list[DomainEvent]:
        events = self._streams.get(stream_id, [])
        return [e for e in events if up_to_version is None or e.originator_version <= up_to_version]

    def read(self, after: int = 0, limit: int = 1000, topics: Sequence[str] = ()) -> list[RecordedEvent]:
        if not topics:
            return [RecordedEvent(after + 1 + i, e) for i, e in enumerate(self._log[after : after + limit])]
        wanted = set(topics)
        out: list[RecordedEvent] = []
        for i in range(after, len(self._log)):
            if self._log[i].NAME in wanted:
                out.append(RecordedEvent(i + 1, self._log[i]))
                if len(out) == limit:
                    break
        return out

    def max_position(self) -> int:
        return len(self._log)
