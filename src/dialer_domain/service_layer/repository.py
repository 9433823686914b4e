"""Loading aggregates from an event store and saving what they recorded, plus a plain in-memory
store for unit tests (the adapters' stores pass the same contract suite)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.errors import NotFound
from dialer_domain.model.events import DomainEvent
from dialer_domain.service_layer.ports import EventStore, RecordedEvent

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

    def get_many(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> dict[UUID, A]:
        """Those of these aggregates that exist, their streams loaded together."""
        return {aid: cls.replay(aid, events) for aid, events in self.store.load_many(aggregate_ids).items() if events}

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
