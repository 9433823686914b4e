"""The one place where everything is wired together."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: `dialer --help` starts without the store's libraries
    from adapters.eventstore import RecorderEventStore
    from dialer_domain.ports import QueueView
    from dialer_domain.repository import Repository


class WallClock:
    """The Clock port on wall time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def database_url() -> str:
    from adapters.eventstore import DEFAULT_DATABASE_URL

    return os.environ.get("DIALER_DATABASE_URL", DEFAULT_DATABASE_URL)


class StoreUnavailable(RuntimeError):
    """The store could not be opened (unreachable, refused, misconfigured); the message names the
    store without its password."""


def store(url: str | None = None) -> RecorderEventStore:
    from eventsourcing.persistence import PersistenceError

    from adapters.eventstore import open_event_store, redact

    url = url or database_url()
    try:
        return open_event_store(url)
    except PersistenceError as exc:
        raise StoreUnavailable(f"cannot open the store {redact(url)}: {str(exc).replace(url, redact(url))}") from None


def repository(url: str | None = None) -> tuple[Repository, RecorderEventStore]:
    from dialer_domain.repository import Repository

    s = store(url)
    return Repository(s), s


def queue(store: RecorderEventStore, url: str | None = None) -> QueueView | None:
    """The engine's queue view: the persisted one on SQLite and PostgreSQL; None (the engine folds
    it in memory) on the memory store."""
    url = url or database_url()
    if url.startswith(("sqlite", "postgres")):
        from adapters.queue_view import open_queue

        return open_queue(store, url)
    return None
