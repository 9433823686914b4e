"""The list index on disk: the keys a campaign's list holds (from the log) and the keys an import
has seen, in SQLite's anonymous temporary database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from uuid import UUID

from adapters.persistence.eventstore import RecorderEventStore
from dialer_domain.model.events import ContactImported, ContactWithdrawn
from dialer_domain.service_layer.repository import iter_log

# ---------------------------------------------------------------------- the list index on disk


class DiskListIndex:
    """The ListIndex port on a temporary SQLite file: the keys the list holds (from the log) and
    the keys this import has seen."""

    def __init__(self, store: RecorderEventStore, campaign_id: UUID) -> None:
        # SQLite's anonymous temporary database: on disk past its cache, unlinked as soon as it is
        # opened, so nothing is left behind even when the process is killed
        self.db = sqlite3.connect("")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE listed (key TEXT PRIMARY KEY, withdrawn INTEGER NOT NULL)")
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY)")
        ours: dict[UUID, str] = {}
        upsert = "INSERT INTO listed VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET withdrawn = excluded.withdrawn"
        for r in iter_log(store, page=20000, topics=("ContactImported", "ContactWithdrawn", "ContactReinstated")):
            e = r.event
            if isinstance(e, ContactImported):
                if e.campaign_id == campaign_id:
                    ours[e.originator_id] = e.key
                    self.db.execute(upsert, (e.key, 0))
            elif e.originator_id in ours:
                self.db.execute(upsert, (ours[e.originator_id], 1 if isinstance(e, ContactWithdrawn) else 0))
        self.db.commit()
        self.listed = self.db.execute("SELECT count(*) FROM listed").fetchone()[0]
        #: Set once the checking pass has recorded every accepted key: marking them again is then a no-op.
        self.seen_complete = False

    def contains(self, key: str) -> bool:
        if not self.listed:  # a new list: nothing to look up
            return False
        return self.db.execute("SELECT 1 FROM listed WHERE key = ?", (key,)).fetchone() is not None

    def first_time_in_file(self, key: str) -> bool:
        try:
            self.db.execute("INSERT INTO seen VALUES (?)", (key,))
        except sqlite3.IntegrityError:
            return False
        return True

    def mark_seen(self, key: str) -> None:
        if not self.seen_complete:
            self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,))

    def counts(self) -> tuple[int, int]:
        """(contacts the list holds now, how many of them the file does not have)."""
        live = self.db.execute("SELECT count(*) FROM listed WHERE withdrawn = 0").fetchone()[0]
        gone = self.db.execute("SELECT count(*) FROM listed WHERE withdrawn = 0 AND key NOT IN (SELECT key FROM seen)").fetchone()[0]
        return int(live), int(gone)

    def unseen(self) -> Iterator[str]:
        cur = self.db.execute("SELECT key FROM listed WHERE withdrawn = 0 AND key NOT IN (SELECT key FROM seen)")
        while True:
            rows = cur.fetchmany(1000)
            if not rows:
                return
            for (key,) in rows:
                yield key

    def close(self) -> None:
        self.db.close()
