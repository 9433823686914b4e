"""The aggregate base: state is only ever built by folding events.

A command checks the rules, then calls ``_record`` which builds the event, folds it into the
state with ``apply`` and keeps it as pending until a repository saves it. Loading replays the
stored events through the same ``apply``, so a replayed object equals the live one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self, TypeVar
from uuid import UUID

import attrs

from dialer_domain.model.errors import NotFound
from dialer_domain.model.events import DomainEvent

E = TypeVar("E", bound=DomainEvent)


@attrs.define
class Aggregate:
    id: UUID
    version: int = 0
    _pending: list[DomainEvent] = attrs.field(factory=list, eq=False, repr=False, alias="_pending")

    def apply(self, event: DomainEvent) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fold(self, event: DomainEvent) -> None:
        if event.originator_version != self.version + 1:
            raise ValueError(f"event {event.NAME} v{event.originator_version} does not follow version {self.version} of {self.id}")
        self.apply(event)
        self.version = event.originator_version

    def _record(self, cls: type[E], at: datetime, **fields: Any) -> E:
        return self._adopt(cls(originator_id=self.id, originator_version=self.version + 1, timestamp=at, **fields))

    def _adopt(self, event: E) -> E:
        """Fold an event made for this aggregate's next version and keep it as pending."""
        self._fold(event)
        self._pending.append(event)
        return event

    def collect_events(self) -> list[DomainEvent]:
        """Hand over the events recorded since the last save (a repository calls this)."""
        events, self._pending = self._pending, []
        return events

    @property
    def pending_events(self) -> tuple[DomainEvent, ...]:
        return tuple(self._pending)

    @classmethod
    def _blank(cls, aggregate_id: UUID) -> Self:
        raise NotImplementedError

    @classmethod
    def replay(cls, aggregate_id: UUID, events: Iterable[DomainEvent]) -> Self:
        obj = cls._blank(aggregate_id)
        for event in events:
            obj._fold(event)
        if obj.version == 0:
            raise NotFound(f"{cls.__name__} {aggregate_id} has no events")
        return obj
