"""In-memory fakes of the ports for unit and handler tests; each passes the same contract suite as
the real adapters (tests/integration/test_event_store_contract.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from uuid import UUID

from dialer_domain.model.errors import ConcurrencyError
from dialer_domain.model.events import DomainEvent
from dialer_domain.rules.reads import Reads
from dialer_domain.service_layer.ports import RecordedEvent


class InMemoryEventStore:
    """A list of events with the EventStore contract: for unit tests and nothing else."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[DomainEvent] = []
        self._streams: dict[UUID, list[DomainEvent]] = {}

    def append(self, events: Sequence[DomainEvent]) -> list[int]:
        with self._lock:
            return self._append(events)

    def _append(self, events: Sequence[DomainEvent]) -> list[int]:
        heads: dict[UUID, int] = {}
        for e in events:
            head = heads.get(e.originator_id, len(self._streams.get(e.originator_id, ())))
            if e.originator_version <= head:
                raise ConcurrencyError(f"another writer appended first: stream {e.originator_id} is at version {head}; nothing was stored")
            if e.originator_version != head + 1:
                raise ConcurrencyError(f"event v{e.originator_version} of stream {e.originator_id} does not follow v{head}; nothing was stored")
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

    def load_many(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[DomainEvent]]:
        return {sid: list(self._streams[sid]) for sid in stream_ids if sid in self._streams}

    def read(self, after: int = 0, limit: int = 1000, topics: Sequence[str] = (), reads: Reads | None = None) -> list[RecordedEvent]:
        """``reads`` is allowed, not needed: the events are whole here."""
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
