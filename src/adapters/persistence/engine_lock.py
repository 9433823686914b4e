"""One engine per store (ADR 0008). Two engines on the same campaigns would each keep calls the
other placed, and connect calls to the other's agents. Until several engine processes are
designed, an engine holds this lock for its whole life and a second one refuses to start.

The lock dies with its holder, even on SIGKILL: on PostgreSQL it is a session advisory lock held
by a connection of the engine's process; on SQLite an ``flock`` on ``<database>.engine.lock``; on
the memory store (one process) a mark on the store object.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from typing import Any


class EngineAlreadyRunning(RuntimeError):
    """Another engine holds this store's engine lock."""


_MEMORY_HOLDERS: set[int] = set()


@contextlib.contextmanager
def engine_lock(store: Any) -> Iterator[None]:
    """Hold the store's engine lock for the block, or raise ``EngineAlreadyRunning`` at once."""
    recorder = store.recorder
    datastore: Any = getattr(recorder, "datastore", None)
    module = type(datastore).__module__ if datastore is not None else ""
    if module.startswith("eventsourcing.postgres"):
        with _postgres_lock(datastore):
            yield
    elif module.startswith("eventsourcing.sqlite"):
        with _file_lock(f"{datastore.pool.db_name}.engine.lock"):
            yield
    else:
        key = id(recorder)
        if key in _MEMORY_HOLDERS:
            raise EngineAlreadyRunning("another engine is already running on this memory store")
        _MEMORY_HOLDERS.add(key)
        try:
            yield
        finally:
            _MEMORY_HOLDERS.discard(key)


@contextlib.contextmanager
def _postgres_lock(datastore: Any) -> Iterator[None]:
    key = f"dialer-engine/{datastore.schema}"
    with datastore.get_connection() as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS got", (key,)).fetchone()
        if not got["got"]:
            holder = conn.execute(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid",
                (key,),
            ).fetchone()
            where = ""
            if holder:
                since = f"{holder['backend_start']:%Y-%m-%d %H:%M:%S}"
                where = f" (database session {holder['pid']} from {holder['client_addr'] or 'a local socket'}, since {since})"
            raise EngineAlreadyRunning(
                f"another engine is already running on PostgreSQL schema {datastore.schema!r}{where}; "
                "stop it first: one engine per store (ADR 0008)"
            )
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            raise EngineAlreadyRunning(
                f"another engine is already running on {path.removesuffix('.engine.lock')}"
                f"{f' (process {holder})' if holder else ''}; stop it first: one engine per store (ADR 0008)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
