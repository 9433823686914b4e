"""One engine per store: a second engine refuses to start with a clear message, and the lock dies
with its holder, even on SIGKILL. Memory, SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from adapters.persistence.engine_lock import EngineAlreadyRunning, engine_lock
from adapters.persistence.eventstore import open_event_store


def _hold(url: str, ready, release) -> None:
    store = open_event_store(url)
    with engine_lock(store):
        ready.set()
        release.wait(60)


def _try(url: str) -> str:
    store = open_event_store(url)
    try:
        with engine_lock(store):
            return "started"
    except EngineAlreadyRunning as exc:
        return str(exc)
    finally:
        store.close()


def test_a_second_engine_in_the_same_process_refuses_to_start(store_url):
    store = open_event_store(store_url)
    second = store if store_url == "memory:" else open_event_store(store_url)
    with engine_lock(store), pytest.raises(EngineAlreadyRunning, match="another engine is already running"), engine_lock(second):
        pass
    with engine_lock(store):  # released when the first engine stopped
        pass
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_second_engine_process_refuses_and_a_killed_engine_frees_the_store(kind, tmp_path, request):
    url = f"sqlite:///{tmp_path}/events.db" if kind == "sqlite" else request.getfixturevalue("pg_url")
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(url, ready, release))
    holder.start()
    assert ready.wait(60)
    message = _try(url)
    assert "another engine is already running" in message and "ADR 0008" in message
    if kind == "sqlite":
        assert f"process {holder.pid}" in message
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    assert _try(url) == "started"
