"""The base of every domain event (see the package's docstring)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import attrs


@attrs.frozen(kw_only=True)
class DomainEvent:
    """Base of every event: which stream, which position in it, and when."""

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: datetime
