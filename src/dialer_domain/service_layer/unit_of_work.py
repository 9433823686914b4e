"""The dialler's unit of work: the aggregates one step changed go to the store in one atomic
append; the step's effects on the world (calls placed or hung up, screens popped) run only after
that append; the step's events are stored in the order it recorded them, across aggregates (the
pacing decision before the dials and offers it caused); and what the step changed in the dialler's own memory is recorded in an undo log, so a
step the store refuses can be taken back whole and run again on fresh aggregates (ADR 0008)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.events import DomainEvent
from dialer_domain.service_layer.ports import EventStore
from dialer_domain.service_layer.undo import UndoLog


class UnitOfWork:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.undo = UndoLog()
        self._touched: dict[UUID, Aggregate] = {}
        self._order: list[DomainEvent] = []  # the step's events, in the order they were recorded
        self._seen: dict[UUID, int] = {}  # how many of each aggregate's pending events are in _order
        self._effects: list[Callable[[], object]] = []

    @property
    def open(self) -> bool:
        """A step has begun and its events are not stored yet."""
        return self.undo.active

    def begin(self) -> None:
        self.undo.begin()

    def touch(self, aggregate: Aggregate) -> None:
        """The step changed this aggregate: its pending events go with the step's append, after
        the events of aggregates touched before (touch right after each change)."""
        self._touched[aggregate.id] = aggregate
        pending = aggregate.pending_events
        seen = self._seen.get(aggregate.id, 0)
        if len(pending) > seen:
            self._order.extend(pending[seen:])
            self._seen[aggregate.id] = len(pending)

    def touched(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self._touched

    def after_commit(self, effect: Callable[[], object]) -> None:
        """Something to do to the world once the step's events are stored."""
        self._effects.append(effect)

    def commit(self) -> tuple[list[Aggregate], list[DomainEvent], list[int]]:
        """Append every touched aggregate's pending events at once. Raises ``ConcurrencyError``
        (the step stays open: roll it back) if another writer got there first. Returns the
        aggregates, their events and the events' log positions."""
        aggregates = list(self._touched.values())
        for a in aggregates:
            self.touch(a)  # events recorded after the aggregate's last touch come last
        events = list(self._order)
        positions = self.store.append(events) if events else []
        self.undo.end()
        self._forget()
        for a in aggregates:
            a.collect_events()
        return aggregates, events, positions

    def rollback(self) -> list[Aggregate]:
        """Take the open step back: the dialler's memory as it was, no effect run, the touched
        aggregates' pending events dropped. Returns those aggregates (their state ran ahead of the
        store: reload them)."""
        self.undo.undo()
        self._effects.clear()
        changed = list(self._touched.values())
        self._forget()
        for a in changed:
            a.collect_events()
        return changed

    def _forget(self) -> None:
        self._touched.clear()
        self._order.clear()
        self._seen.clear()

    def run_effects(self) -> None:
        effects, self._effects = self._effects, []
        for effect in effects:
            effect()
