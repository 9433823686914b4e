"""The one place where everything is wired together."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from adapters.eventstore import DEFAULT_DATABASE_URL, RecorderEventStore, open_event_store
from dialer_domain.repository import Repository


class WallClock:
    """The Clock port on wall time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def database_url() -> str:
    return os.environ.get("DIALER_DATABASE_URL", DEFAULT_DATABASE_URL)


def store(url: str | None = None) -> RecorderEventStore:
    return open_event_store(url or database_url())


def repository(url: str | None = None) -> tuple[Repository, RecorderEventStore]:
    s = store(url)
    return Repository(s), s
