"""The pacing log: one campaign's pacing decisions for one day, as a stream (R20: the audit shows
the decision behind every dial)."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import UUID

import attrs

from dialer_domain.model.aggregate import Aggregate
from dialer_domain.model.events import DomainEvent, PacingDecided


@attrs.define
class PacingLog(Aggregate):
    """The stream of one campaign's pacing decisions for one day."""

    decisions: int = 0

    @classmethod
    def _blank(cls, aggregate_id: UUID) -> Self:
        return cls(id=aggregate_id)

    def record(self, at: datetime, **fields: object) -> PacingDecided:
        return self._record(PacingDecided, at, **fields)

    def apply(self, event: DomainEvent) -> None:
        self.decisions += 1
