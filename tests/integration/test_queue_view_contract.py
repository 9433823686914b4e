"""The QueueView port's contract, written once: the in-memory fold (``LiveQueue``) and the
persisted view on SQLite and PostgreSQL (``PersistedQueue``) give the same answers about the same
log: R11 order, due times, what is queued, and R13's held and unassigned contacts."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.values import ContactData, PhoneNumber
from dialer_domain.service_layer.live_queue import LiveQueue
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap

CAMPAIGN = uuid4()


def _contact(repo, t0, key, *, minutes, priority=5, agent=None):
    c = ContactAttempt.import_(
        uuid4(),
        campaign_id=CAMPAIGN,
        key=key,
        numbers=(PhoneNumber("+4520000000"),),
        data=ContactData(name=key),
        priority=priority,
        assigned_agent=agent,
        at=t0 + timedelta(minutes=minutes),
    )
    repo.save(c)
    return c


class QueueViewContract:
    """A subclass gives ``make_queue(store)``: the queue view under test on that store."""

    @pytest.fixture
    def store(self):
        raise NotImplementedError

    def make_queue(self, store):
        raise NotImplementedError

    @pytest.fixture
    def world(self, store, t0):
        """Five contacts: 'old' and 'new' unassigned; 'held' assigned to a1; 'cb' a callback due at
        +30 min (priority 9); 'gone' withdrawn; then 'old' queued."""
        repo = Repository(store)
        made = {
            "old": _contact(repo, t0, "old", minutes=0),
            "new": _contact(repo, t0, "new", minutes=10, priority=9),
            "held": _contact(repo, t0, "held", minutes=5, agent="a1"),
            "cb": _contact(repo, t0, "cb", minutes=1, priority=9),
            "gone": _contact(repo, t0, "gone", minutes=2),
        }
        made["cb"].schedule_callback(t0 + timedelta(minutes=30), agent_id=None, by="test", now=t0 + timedelta(minutes=11))
        made["gone"].withdraw("test", t0 + timedelta(minutes=11))
        repo.save(made["cb"], made["gone"])
        made["old"].queue(t0 + timedelta(minutes=12))
        repo.save(made["old"])
        ids = {k: c.id for k, c in made.items()}
        return self.make_queue(store), ids

    def test_due_contacts_come_in_r11_order_and_a_callback_only_at_its_time(self, world, t0):
        q, ids = world
        early = q.take_due(CAMPAIGN, t0 + timedelta(minutes=20), 10)
        assert early == [ids["held"], ids["new"]]  # oldest created first; the callback is not due yet; 'old' is queued
        later = q.take_due(CAMPAIGN, t0 + timedelta(minutes=31), 10)
        assert later[0] == ids["cb"]  # a callback whose time has passed goes first
        assert set(later) == {ids["cb"], ids["held"], ids["new"]}
        assert q.take_due(CAMPAIGN, t0 + timedelta(minutes=31), 10, agent_owned=True) == [ids["held"]]

    def test_callbacks_due_and_the_next_appointment(self, world, store, t0):
        q, ids = world
        assert q.callbacks(CAMPAIGN, t0 + timedelta(minutes=20)) == (0, t0 + timedelta(minutes=30))
        assert q.callbacks(CAMPAIGN, t0 + timedelta(minutes=31)) == (1, None)
        repo = Repository(store)
        cb = repo.get(ContactAttempt, ids["cb"])

        def save() -> None:  # as the engine does: commit, then hand the view what it committed
            before = store.max_position()
            repo.save(cb)
            q.observe(store.read(before, 100))

        cb.move_callback(t0 + timedelta(minutes=45), agent_id=None, by="test", now=t0 + timedelta(minutes=21))
        save()
        assert q.callbacks(CAMPAIGN, t0 + timedelta(minutes=31)) == (0, t0 + timedelta(minutes=45))  # moved
        cb.cancel_callback(by="test", reason="", close=False, now=t0 + timedelta(minutes=22))
        save()
        assert q.callbacks(CAMPAIGN, t0 + timedelta(minutes=50)) == (0, None)  # cancelled: none left

    def test_queued_contacts_and_their_count(self, world):
        q, ids = world
        assert q.queued(CAMPAIGN) == [ids["old"]]
        assert q.queued_count(CAMPAIGN) == 1
        assert q.next_queued(CAMPAIGN) == ids["old"]
        assert q.next_queued(CAMPAIGN, exclude=frozenset({ids["old"]})) is None
        assert q.next_queued(CAMPAIGN, agent_id="a1") is None

    def test_r13_held_and_unassigned(self, world):
        q, ids = world
        assert q.held_by(CAMPAIGN, "a1") == 1
        assert q.held_by(CAMPAIGN, "a2") == 0
        assert q.unassigned(CAMPAIGN) == [ids["new"]]  # 'old' is queued, 'cb' a callback, 'gone' withdrawn
        assert q.unassigned(CAMPAIGN, limit=0) == []

    def test_a_contact_returned_until_the_callees_hours_open_is_not_due_before_then(self, store, world, t0):
        _, ids = world
        repo = Repository(store)
        old = repo.get(ContactAttempt, ids["old"])
        old.return_to_list("callee_local_hours: it is 07:00 in America/New_York", t0 + timedelta(minutes=13), not_before=t0 + timedelta(hours=2))
        repo.save(old)
        q = self.make_queue(store)
        assert ids["old"] not in q.take_due(CAMPAIGN, t0 + timedelta(minutes=119), 10)
        assert ids["old"] in q.take_due(CAMPAIGN, t0 + timedelta(minutes=121), 10)

    def test_a_campaigns_filter_and_sort_order_decide_what_is_due_and_in_what_order_r10(self, store, t0):
        from dialer_domain.model.campaign import Campaign
        from dialer_domain.model.values import CampaignSettings, DialMode, ListSelection

        camp_id = uuid4()
        repo = Repository(store)
        camp = Campaign.create(camp_id, name="Sel", manager="m", dial_mode=DialMode.PROGRESSIVE, settings=CampaignSettings(skill="s"), at=t0)
        repo.save(camp)
        people = {"a": ("north", "30"), "b": ("south", "50"), "c": ("North", "45"), "d": ("north", None), "e": ("south", "99")}
        ids = {}
        for i, (key, (region, age)) in enumerate(people.items()):
            fields = {"region": region, **({"age": age} if age else {})}
            c = ContactAttempt.import_(uuid4(), campaign_id=camp_id, key=key, numbers=(PhoneNumber("+4520000000"),),
                                       data=ContactData(fields=fields), at=t0 + timedelta(minutes=i))
            if key == "e":
                c.schedule_callback(t0 + timedelta(minutes=20), agent_id=None, by="test", now=t0 + timedelta(minutes=6))
            repo.save(c)
            ids[key] = c.id
        selection = ListSelection(filters={"north": "region = 'north'"}, active="north", sort=("age desc",))
        camp.set_selection(selection, t0 + timedelta(minutes=7), "test")
        repo.save(camp)
        q = self.make_queue(store)
        names = {v: k for k, v in ids.items()}
        later = t0 + timedelta(hours=1)
        assert [names[c] for c in q.take_due(camp_id, later, 10)] == ["e", "c", "a", "d"]  # the callback first, whatever the filter
        assert q.listed(camp_id) == (3, 1)  # b is left out
        camp.set_selection(ListSelection(filters=selection.filters, active=None, sort=("age desc",)), t0 + timedelta(minutes=8), "test")
        repo.save(camp)
        q = self.make_queue(store)
        assert [names[c] for c in q.take_due(camp_id, later, 10)] == ["e", "b", "c", "a", "d"]
        assert q.listed(camp_id) == (4, 0)

    def test_another_campaign_is_not_seen(self, world, t0):
        q, _ = world
        other = uuid4()
        assert q.take_due(other, t0 + timedelta(days=1), 10) == [] and q.queued(other) == [] and q.unassigned(other) == []


class TestLiveQueue(QueueViewContract):
    @pytest.fixture
    def store(self):
        return open_event_store("memory:")

    def make_queue(self, store):
        q = LiveQueue()
        q.observe(store.read(0, 10**6))
        return q


class TestPersistedQueueSQLite(QueueViewContract):
    @pytest.fixture
    def store(self, tmp_path):
        s = open_event_store(f"sqlite:///{tmp_path}/queue.db")
        yield s
        s.close()

    def make_queue(self, store):
        return bootstrap.queue(store)


class TestPersistedQueuePostgres(QueueViewContract):
    @pytest.fixture
    def store(self, pg_url):
        s = open_event_store(pg_url)
        yield s
        s.close()

    def make_queue(self, store):
        return bootstrap.queue(store)


def test_the_reader_on_the_memory_store_folds_the_log(t0):
    store = open_event_store("memory:")
    repo = Repository(store)
    c = _contact(repo, t0, "k", minutes=0)
    assert bootstrap.queue_reader(store).unassigned(CAMPAIGN) == [c.id]
