"""The engine's port on the persisted queue view writes what it folded in pages that carry many of
the engine's commits (ADR 0040): the answers it keeps never wait for a write, an answer read from
the view always follows one, another reader sees the view at most ``write_after_seconds`` behind,
a write that fails is folded again from the log, and the store's close writes what is left. On
SQLite and PostgreSQL, the view written equals the fold of the log, page after contiguous page."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from itertools import pairwise
from types import SimpleNamespace

import pytest

from adapters.persistence.eventstore import open_event_store
from adapters.views import queue_port
from adapters.views import statistics as projections
from adapters.views.queue import QUEUE_TOPICS
from adapters.views.queue_port import PersistedQueue
from dialer_domain.model.values import ContactData, PhoneNumber
from dialer_domain.service_layer.handlers import add_contacts
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from tests.integration.test_queue_view import campaigns, memory_entries, simulate, view_entries
from tests.integration.test_queue_view import url as url  # the fixture: SQLite, then PostgreSQL


def counting_pages(view):
    """The view, each page it commits recorded as (from, to, rows)."""
    pages: list[tuple[int, int, int]] = []
    commit = view.commit_entries

    def counted(gen, start, rows, position, *args, **kwargs):
        commit(gen, start, rows, position, *args, **kwargs)
        pages.append((start, position, len(rows)))

    view.commit_entries = counted
    return pages


def last_queue_position(store) -> int:
    return store.read(0, 10**8, topics=QUEUE_TOPICS)[-1].position


def handed_late_contacts(store, port, campaign, batch: int) -> None:
    """Three contacts imported, and the events handed to the port as the engine hands it its commits."""
    head = store.max_position()
    rows = [(f"late{batch}-{i}", (PhoneNumber(f"+4520{batch}{i:05d}"),), ContactData(name=f"Late {i}"), 5, None) for i in range(3)]
    add_contacts(Repository(store), campaign, rows, source="test", at=datetime.now(UTC))
    port.observe(store.read(head, 10**6))


def test_a_page_carries_many_engine_commits_and_what_is_written_equals_the_fold_of_the_log(url):
    memory = open_event_store("memory:")
    simulate(memory)
    store = open_event_store(url)
    try:
        view = projections.open_view(url, "queue")
        pages = counting_pages(view)
        port = PersistedQueue(store, view, write_after_seconds=1e9)
        handed = []
        observe = port.observe
        port.observe = lambda batch: (handed.append(len(batch)), observe(batch))
        simulate(store, queue=port)
        day = [(type(r.event).__name__, r.event.originator_id, r.event.originator_version) for r in store.read(0, 10**8)]
        assert day == [(type(r.event).__name__, r.event.originator_id, r.event.originator_version) for r in memory.read(0, 10**8)]
        port.close()
        assert all(later[0] == earlier[1] for earlier, later in pairwise(pages)), "pages follow one another"
        assert len(pages) * 5 < len(handed), (len(pages), len(handed))  # many commits a page
        assert view.gen_position(view.live_generation()) == last_queue_position(store)
        assert view_entries(view) == memory_entries(store)[1]
        projections.rebuild(store, view, batch_size=97)
        assert view_entries(view) == memory_entries(store)[1]
    finally:
        store.close()


def test_what_was_folded_is_written_within_its_delay_and_answers_kept_never_wait_for_it(url, monkeypatch):
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(queue_port, "time", SimpleNamespace(monotonic=lambda: clock.now))
    store = open_event_store(url)
    try:
        view = projections.open_view(url, "queue")
        port = PersistedQueue(store, view, write_after_seconds=1.0, generation_check_seconds=1e9)
        seen = {"deferred": 0, "written late": 0}
        ask = port.queued_count

        def queued_count(campaign_id):
            clock.now += 0.25  # a quarter of a second between questions
            owed = port._dirty_since
            n = ask(campaign_id)
            assert port._dirty_since is None or clock.now - port._dirty_since < 1.0, "folded more than a second ago and not written"
            assert view.gen_position(port._gen) == port._tracked, "the view holds what the port wrote"
            seen["deferred"] += port._folded > port._tracked
            seen["written late"] += owed is not None and port._dirty_since is None
            return n

        port.queued_count = queued_count
        simulate(store, queue=port, hours=0.5, contacts=100)
        assert seen["deferred"] > 100 and seen["written late"] > 10, seen
    finally:
        store.close()


def test_a_write_that_fails_is_folded_again_from_the_log_and_the_stores_close_writes_what_is_left(url):
    store = open_event_store(url)
    try:
        simulate(store, hours=0.25, contacts=60)
        port = bootstrap.queue(store, url)
        campaign = campaigns(store)[0]
        port.refresh()  # caught up from the log
        port.queued_count(campaign)  # read from the view once, then kept

        late_contacts = partial(handed_late_contacts, store, port, campaign)
        late_contacts(0)
        port.queued_count(campaign)  # folded, kept, not written yet
        written = port.view.gen_position(port.view.live_generation())
        assert written < last_queue_position(store) == port._folded
        commit = port.view.commit_entries
        port.view.commit_entries = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full"))
        with pytest.raises(RuntimeError, match="disk full"):
            port.refresh()
        assert port.view.gen_position(port.view.live_generation()) == written  # nothing half-written
        port.view.commit_entries = commit
        assert port.queued_count(campaign) == port.view.count_queued(port.view.live_generation(), campaign)
        assert view_entries(port.view) == memory_entries(store)[1]  # folded again from the log, once
        late_contacts(1)
        port.queued_count(campaign)  # kept since the last question: folded, not written
        assert port.view.gen_position(port.view.live_generation()) < last_queue_position(store)
    finally:
        store.close()  # writes what the port folded, before the view closes
    store = open_event_store(url)
    try:
        view = projections.open_view(url, "queue")
        assert view.gen_position(view.live_generation()) == last_queue_position(store)
        assert view_entries(view) == memory_entries(store)[1]
    finally:
        store.close()


def test_a_write_that_fails_at_the_stores_close_is_logged_and_the_next_port_catches_it_up(url, caplog):
    store = open_event_store(url)
    try:
        simulate(store, hours=0.25, contacts=60)
        port = bootstrap.queue(store, url)
        campaign = campaigns(store)[0]
        port.queued_count(campaign)
        handed_late_contacts(store, port, campaign, 0)
        port.queued_count(campaign)  # folded, not written
        port.view.commit_entries = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full"))
    finally:
        store.close()  # does not raise
    assert "not written (RuntimeError)" in caplog.text and "disk full" not in caplog.text
    store = open_event_store(url)
    try:
        view = projections.open_view(url, "queue")
        assert view.gen_position(view.live_generation()) < last_queue_position(store)
        port = PersistedQueue(store, view)
        assert port.queued_count(campaign) == view.count_queued(view.live_generation(), campaign)
        assert view.gen_position(view.live_generation()) == last_queue_position(store)
        assert view_entries(view) == memory_entries(store)[1]
    finally:
        store.close()
