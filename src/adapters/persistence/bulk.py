"""The bulk append on PostgreSQL: events already mapped (a list import's new contacts) go by binary
COPY (ADR 0003), all of a transaction's bulk appends by one COPY, kept open until another
statement needs the connection or the transaction ends (ADR 0046). The conflict messages of an
append, whichever way it went."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent

from adapters.persistence.schema import GAP_MESSAGE
from dialer_domain.model.errors import ConcurrencyError

COLUMNS = "originator_id, originator_version, topic, state"
TYPES = ["uuid", "int8", "text", "bytea"]
SHOWN = 5  # streams a conflict's message names


def _statement(rec: Any) -> Any:
    from psycopg.sql import SQL, Identifier

    table = SQL("{0}.{1}").format(Identifier(rec.datastore.schema), Identifier(rec.events_table_name))
    # binary: no text escaping of the states on either side (bench/import: 0.4 of the client's CPU, 0.6 of the server's)
    return SQL(f"COPY {{0}} ({COLUMNS}) FROM STDIN (FORMAT BINARY)").format(table)


class OpenCopy:
    """A transaction's bulk appends as one COPY. The first opens it; each writes its rows and
    returns while PostgreSQL still stores them, so the caller prepares its next batch meanwhile
    (a COPY ended per batch made the two take turns: bench/import's writing pass took twice as
    long). ``end`` ends it, and PostgreSQL's checks of its rows (a stream version stored already, a
    gap) raise there: before any other statement on the connection, and before the commit.
    ``abandon`` cancels it when the block fails (the transaction then rolls back)."""

    def __init__(self, rec: Any, curs: Any) -> None:
        self.rec, self.curs = rec, curs
        self.rows = 0
        self.first: list[str] = []  # the first streams written, for a conflict's message
        self._copy: Any = None
        self._stack = contextlib.ExitStack()

    def write(self, stored: Sequence[StoredEvent]) -> None:
        if self._copy is None:
            self._copy = self._stack.enter_context(self.curs.copy(_statement(self.rec)))
            self._copy.set_types(TYPES)
        write = self._copy.write_row
        for e in stored:
            write((e.originator_id, e.originator_version, e.topic, e.state))
        if len(self.first) < SHOWN:
            self.first.extend(f"{e.originator_id} v{e.originator_version}" for e in stored[: SHOWN - len(self.first)])
        self.rows += len(stored)

    def end(self, errors: tuple[type[Exception], ...]) -> None:
        """End the COPY, if one is open; a row PostgreSQL refuses raises ConcurrencyError."""
        if self._copy is None:
            return
        rows, first = self.rows, self.first
        self._copy, self.rows, self.first = None, 0, []
        try:
            self._stack.close()
        except errors as exc:  # PostgreSQL's detail names the row, one of many the message cannot list
            detail = getattr(getattr(exc, "diag", None), "message_detail", None)
            raise conflict(first, rows, exc, detail or "") from exc

    def abandon(self, exc: BaseException) -> None:
        """Cancel the open COPY (the block failed with ``exc``); its rows are not stored."""
        if self._copy is None:
            return
        self._copy = None
        with contextlib.suppress(Exception):
            self._stack.__exit__(type(exc), exc, exc.__traceback__)


def conflict(streams: Sequence[str], count: int, exc: Exception, why: str = "") -> ConcurrencyError:
    """The ConcurrencyError of an append PostgreSQL or SQLite refused: ``streams`` are its first
    streams (as "id vN"), ``count`` how many it held, ``why`` the database's detail if any."""
    shown = ", ".join(streams[:SHOWN]) + (f" and {count - SHOWN} more" if count > SHOWN else "") + (f" ({why})" if why else "")
    if GAP_MESSAGE in str(exc):
        return ConcurrencyError(f"an event {GAP_MESSAGE} (a version is missing before it); none of these were stored: {shown}")
    return ConcurrencyError(f"another writer appended first; none of these were stored: {shown}")
