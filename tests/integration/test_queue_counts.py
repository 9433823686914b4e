"""The engine's count of a campaign's queued contacts on the persisted view
(``PersistedQueue.queued_count``) is kept by the fold, not counted in SQL at every pacing decision,
and so are its appointments (``callbacks``, asked at every queue run), read again only when a fold
changed them, and the head of its queue (``next_queued``), less the contacts a fold took out of it,
read again when a fold queued one of its contacts.
A count that drifted would starve the queue or overfill it, so this holds it, at every question the
engine asks, equal to the view's own SQL count: through the engine's own folds, contacts imported by
another writer, a follower moving the view under the engine, and rebuilds switching generations."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.persistence.eventstore import open_event_store
from adapters.views import statistics as projections
from adapters.views.base import catch_up
from adapters.views.queue_port import PersistedQueue
from dialer_domain.model.values import ContactData, DialMode, PhoneNumber
from dialer_domain.service_layer.handlers import add_contacts
from dialer_domain.service_layer.repository import Repository
from tests.integration.test_queue_view import WORLD, campaigns, memory_entries, simulate, view_entries
from tests.integration.test_queue_view import url as url  # the fixture: SQLite, then PostgreSQL


class CheckedQueue(PersistedQueue):
    """The port, asked by the engine; every ``every`` questions another writer does one thing
    (``disturb``) first (if it says there was nothing to do yet, it is asked again at the next
    question); every answer given while the port is current is held to the SQL count."""

    def __init__(self, store, view, *, every=0, disturb=None, batch_size=5000):
        super().__init__(store, view, batch_size=batch_size)
        self.every, self.disturb = every, disturb
        self._owed = None
        self.asked = self.checked = self.counted_in_sql = self.most = 0
        self._count_in_sql = view.count_queued
        view.count_queued = self._counting
        self.asked_callbacks = self.checked_callbacks = self.read_callbacks = self.most_callbacks = 0
        self._callbacks_in_sql = view.callback_times
        view.callback_times = self._reading_callbacks
        self.asked_heads = self.checked_heads = self.read_heads = self.checked_due = 0
        self._first_in_sql = view.first_queued
        view.first_queued = self._reading_heads

    def _counting(self, gen, campaign_id):
        self.counted_in_sql += 1
        return self._count_in_sql(gen, campaign_id)

    def _reading_callbacks(self, gen, campaign_id):
        self.read_callbacks += 1
        return self._callbacks_in_sql(gen, campaign_id)

    def _current(self):
        """Whether the view holds what the port has written and nothing else; then what it folded
        and has not written yet is written (ADR 0040), so that the answer it kept can be held to
        the view's."""
        if self.view.live_generation() != self._gen or self.view.gen_position(self._gen) != self._tracked:
            return False
        self._write()
        return True

    def next_queued(self, campaign_id, agent_id=None, exclude=frozenset()):
        self.asked_heads += 1
        got = super().next_queued(campaign_id, agent_id, exclude)
        if self._current():
            head = self._first_in_sql(self._gen, campaign_id, agent_id, len(exclude) + 1)
            assert got == next((c for c in head if c not in exclude), None), f"head question {self.asked_heads}: the kept head drifted"
            self.checked_heads += 1
        return got

    def take_due(self, campaign_id, now, limit, agent_owned=False):
        got = super().take_due(campaign_id, now, limit, agent_owned)
        if self._current() and got:
            from adapters.views.queue import entry_row

            stored = self.view.load_entries(self._gen, got)
            for cid in got:  # the entries the port keeps for its next fold are the view's own
                assert entry_row(self._gen, *self._carry[cid]) == entry_row(self._gen, *stored[cid]), f"due contact {cid}: the kept entry drifted"
            self.checked_due += len(got)
        return got

    def _reading_heads(self, gen, campaign_id, agent_id, limit):
        self.read_heads += 1
        return self._first_in_sql(gen, campaign_id, agent_id, limit)

    def callbacks(self, campaign_id, now):
        self.asked_callbacks += 1
        due, next_at = super().callbacks(campaign_id, now)
        if self._current():
            times = self._callbacks_in_sql(self._gen, campaign_id)
            kept = self._callback_times[campaign_id]
            assert kept == times, f"callback question {self.asked_callbacks}: the kept appointments drifted"
            self.checked_callbacks += 1
            self.most_callbacks = max(self.most_callbacks, len(times))
        return due, next_at

    def queued_count(self, campaign_id):
        self.asked += 1
        if self._owed is not None or (self.every and self.asked % self.every == 0):
            k = self._owed if self._owed is not None else self.asked // self.every
            self._owed = k if self.disturb(k) is False else None  # False: nothing to do yet; again at the next question
        n = super().queued_count(campaign_id)
        if self._current():
            assert n == self._count_in_sql(self._gen, campaign_id), f"question {self.asked}: the kept count drifted"
            self.checked += 1
            self.most = max(self.most, n)
        return n


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PROGRESSIVE])
def test_the_kept_count_is_the_views_count_while_other_writers_import_follow_and_rebuild(url, mode):
    store = open_event_store(url)
    other_view = projections.open_view(url, "queue")  # another process's connection to the view
    done: list[str] = []
    try:

        def disturb(k):
            match k % 4:
                case 0:  # another writer imports contacts the engine never hands its port
                    at = store.read(store.max_position() - 1, 1)[0].event.timestamp
                    rows = [(f"late{k}-{i}", (PhoneNumber(f"+4521{k:04d}{i:02d}"),), ContactData(name=f"Late {i}"), 5, None) for i in range(3)]
                    add_contacts(Repository(store), campaigns(store)[0], rows, source="test", at=at)
                    done.append("import")
                case 1:  # a follower folds what the engine has not folded yet (at the next question with some)
                    if not catch_up(store, other_view):
                        return False
                    done.append("follow")
                case 2:  # a rebuild beside the live view switches generations
                    projections.rebuild(store, other_view, batch_size=53)
                    done.append("rebuild")

        queue = CheckedQueue(store, projections.open_view(url, "queue"), every=37, disturb=disturb)
        simulate(store, queue=queue, mode=mode, agents=4, contacts=150, hours=0.75)
        assert {"import", "follow", "rebuild"} <= set(done)
        assert queue.checked > 100 and queue.most > 0, (queue.checked, queue.most)
        assert queue.counted_in_sql < queue.asked / 4, "the count is kept between the engine's folds, not read per question"
        assert queue.checked_callbacks > 100 and queue.most_callbacks > 0, (queue.checked_callbacks, queue.most_callbacks)
        assert queue.read_callbacks < queue.asked_callbacks / 2, "the appointments are kept between the engine's folds"
        assert queue.checked_heads > 100, queue.checked_heads
        assert queue.checked_due > 20, queue.checked_due
        queue.refresh()
        assert view_entries(queue.view) == memory_entries(store)[1]
    finally:
        store.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(list(DialMode)),
    agents=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    minutes=st.integers(10, 40),
    every=st.integers(3, 60),
    batch=st.integers(1, 300),
)
def test_property_for_random_histories_the_kept_count_is_the_views_count(tmp_path_factory, mode, agents, seed, minutes, every, batch):
    url = f"sqlite:///{tmp_path_factory.mktemp('c')}/h.db"
    store = open_event_store(url)
    other_view = projections.open_view(url, "queue")
    try:

        def disturb(k):
            if k % 3 == 0:
                catch_up(store, other_view, batch_size=batch)
            elif k % 3 == 1:
                projections.rebuild(store, other_view, batch_size=batch)

        queue = CheckedQueue(store, projections.open_view(url, "queue"), every=every, disturb=disturb, batch_size=batch)
        simulate(store, queue=queue, mode=mode, agents=agents, seed=seed, hours=minutes / 60, contacts=agents * minutes * 2 + 20, world=WORLD)
        for cid in campaigns(store):
            queue.refresh()
            assert queue.queued_count(cid) == sum(1 for e, _ in queue.view.entries(None, cid).values() if e.state.value == "queued")
    finally:
        store.close()


def test_a_selection_change_keeps_the_count(tmp_path, t0):
    """A campaign's new filter moves contacts between the list and the left-out lanes, never into or
    out of the queued one: the kept count stays, and stays true."""
    from dialer_domain.model.campaign import Campaign
    from dialer_domain.model.contact import ContactAttempt
    from dialer_domain.model.values import CampaignSettings, ListSelection

    url = f"sqlite:///{tmp_path}/sel.db"
    store = open_event_store(url)
    try:
        repo = Repository(store)
        campaigns_id = uuid4()
        camp = Campaign.create(campaigns_id, name="S", manager="m", dial_mode=DialMode.PROGRESSIVE,
                               settings=CampaignSettings(skill="s"), at=t0)
        repo.save(camp)
        contacts = []
        for i in range(6):
            c = ContactAttempt.import_(uuid4(), campaign_id=campaigns_id, key=f"k{i}", numbers=(PhoneNumber("+4520000000"),),
                                       data=ContactData(name=f"N{i}", fields={"region": "north" if i % 2 else "south"}), priority=5, at=t0)
            repo.save(c)
            contacts.append(c)
        queue = CheckedQueue(store, projections.open_view(url, "queue"))
        assert queue.queued_count(campaigns_id) == 0
        head = store.max_position()
        for c in contacts[:3]:
            c.queue(t0 + timedelta(minutes=1))
            repo.save(c)
        camp.set_selection(ListSelection(filters={"f": "region = 'north'"}, active="f"), t0 + timedelta(minutes=2), "test")
        repo.save(camp)
        queue.observe(store.read(head, 10**6))
        assert queue.queued_count(campaigns_id) == 3 and queue.counted_in_sql == 1
    finally:
        store.close()
