"""The persisted queue view on SQLite and PostgreSQL: the engine reading it makes the very same day
as the engine folding the queue in memory; the view equals the in-memory fold and a rebuild equals
the live view; a second writer is refused; and a view that lags never causes a second dial."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.persistence.eventstore import open_event_store
from adapters.telephony.simulated import WorldParams
from adapters.views import queue as queue_view
from adapters.views import statistics as projections
from adapters.views.base import COPY_ROWS, GenerationSwitched, PositionMoved
from adapters.views.queue import QUEUE_TOPICS, QueueProjection
from adapters.views.queue_port import PersistedQueue
from dialer_domain.model.events import CampaignCreated, DialAttempted
from dialer_domain.model.values import ContactState, DialMode
from dialer_domain.service_layer.live_queue import LiveQueue
from entrypoints import bootstrap
from entrypoints.simulate import SimulationConfig, run_simulation
from tests.integration.test_simulated_day import check_attempts_and_redial_delay, check_no_contact_dialled_twice_at_once

WORLD = WorldParams(p_callback=0.3, p_sale=0.2)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/queue.db"
    return request.getfixturevalue("pg_url")


def simulate(store, queue=None, **kw):
    cfg = dict(mode=DialMode.PREDICTIVE, agents=4, contacts=200, hours=1.0, seed=11, min_redial_seconds=600, attempts_per_number=2, world=WORLD)
    cfg.update(kw)
    return run_simulation(store, SimulationConfig(**cfg), queue=queue)


def fingerprint(e):
    return (e.state, e.state_before_queue, e.assigned_agent, e.priority, e.attempts, e.callback_at, e.next_dial_at, e.created_at)


def memory_entries(store):
    q = LiveQueue()
    q.observe(store.read(0, 10**8))
    return q, {cid: fingerprint(e) for cid, e in q.entries.items()}


def view_entries(view, gen=None):
    return {cid: fingerprint(e) for cid, (e, _) in view.entries(gen).items()}


def queue_view_part_way(store, url):
    """A short simulated day, and the queue view folded over its first 100 events (of its topics)."""
    simulate(store, hours=0.25, contacts=60)
    view = projections.open_view(url, "queue")
    projections.catch_up(store, view, batch_size=50, stop_after=100)
    return view


def campaigns(store):
    return [r.event.originator_id for r in store.read(0, 10**8) if isinstance(r.event, CampaignCreated)]


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PREVIEW, DialMode.AUTO])
def test_the_engine_on_the_persisted_view_makes_the_same_day_as_in_memory(url, mode):
    memory = open_event_store("memory:")
    simulate(memory, mode=mode)
    store = open_event_store(url)
    try:
        simulate(store, queue=bootstrap.queue(store, url), mode=mode)
        stored = [(type(r.event).__name__, r.event.originator_id, r.event.originator_version) for r in store.read(0, 10**8)]
    finally:
        store.close()
    expected = [(type(r.event).__name__, r.event.originator_id, r.event.originator_version) for r in memory.read(0, 10**8)]
    assert sum(1 for name, _, _ in stored if name == "DialAttempted") > 50
    assert stored == expected


def test_the_view_equals_the_in_memory_fold_and_a_rebuild_equals_the_live_view(url, monkeypatch):
    store = open_event_store(url)
    try:
        queue = bootstrap.queue(store, url)
        result = simulate(store, queue=queue)
        queue.refresh()
        live_q, expected = memory_entries(store)
        assert view_entries(queue.view) == expected and len(expected) == 200
        gen = queue.view.live_generation()
        # the R11 order of what is due, at several moments (forward in time, as the in-memory
        # queue expects), asked of both, the view reading the list's head first or not, then by
        # either of its indexes
        full_scan = queue_view.DUE_SCAN_LIMIT
        for hours in (0, 1, 3, 30):
            at = result.ended + timedelta(hours=hours)
            for cid in campaigns(store):
                for head, scan_limit in ((4, full_scan), (0, full_scan), (0, 3), (1, full_scan), (1, 3)):
                    monkeypatch.setattr(queue_view, "DUE_HEAD", head)
                    monkeypatch.setattr(queue_view, "DUE_SCAN_LIMIT", scan_limit)
                    for limit in (500, 7, 1):
                        assert queue.view.due(gen, cid, at, limit) == live_q.take_due(cid, at, limit), (hours, head, scan_limit, limit)
        new_gen, done = projections.rebuild(store, queue.view, batch_size=97)
        assert new_gen == gen + 1 and done == len(store.read(0, 10**8, topics=QUEUE_TOPICS))
        assert view_entries(queue.view) == expected
        assert queue.view.entries(gen) == {}, "the old generation's rows are dropped at the switch"
        # the engine's port follows the switch on its next question
        queue._gen_checked = -1e18
        assert queue.queued_count(campaigns(store)[0]) == 0 and queue._gen == new_gen
    finally:
        store.close()


def test_the_engines_port_finds_a_rebuilt_generation_in_the_transaction_of_what_it_folds(url, monkeypatch):
    from dialer_domain.model.values import ContactData, PhoneNumber
    from dialer_domain.service_layer.handlers import add_contacts
    from dialer_domain.service_layer.repository import Repository

    store = open_event_store(url)
    try:
        queue = bootstrap.queue(store, url)
        result = simulate(store, queue=queue, hours=0.25, contacts=60)
        queue.refresh()
        old = queue.view.live_generation()
        new_gen, _ = projections.rebuild(store, queue.view)  # a rebuild elsewhere switches generations
        head = store.max_position()
        rows = [(f"late{i}", (PhoneNumber(f"+4520{i:06d}"),), ContactData(name=f"Late {i}"), 5, None) for i in range(3)]
        add_contacts(Repository(store), campaigns(store)[0], rows, source="test", at=result.ended)
        queue.observe(store.read(head, 10**6))  # what the engine hands its port after a commit
        asked = []
        live_generation = queue.view.live_generation
        monkeypatch.setattr(queue.view, "live_generation", lambda: asked.append(1) or live_generation())
        assert queue.refresh() > 0
        assert asked == [], "no transaction of its own to look for a new generation: the fold's found it"
        assert queue._gen == new_gen and live_generation() == new_gen
        expected = memory_entries(store)[1]
        assert view_entries(queue.view, new_gen) == expected and len(expected) == 63
        assert queue.view.entries(old) == {}, "nothing was written into the generation the rebuild dropped"
        # nothing to fold: it asks on its own
        queue.refresh()
        assert asked == [1]
    finally:
        store.close()


def test_a_second_writer_is_refused_and_writes_nothing(url):
    store = open_event_store(url)
    try:
        view = queue_view_part_way(store, url)
        gen = view.live_generation()
        position = view.gen_position(gen)
        before = view_entries(view, gen)
        page = store.read(position, 40, QUEUE_TOPICS)
        stale_start = 1  # a writer that read the view before the other one committed
        with pytest.raises(PositionMoved):
            QueueProjection(view).process_batch(gen, stale_start, page, {})
        assert view.gen_position(gen) == position and view_entries(view, gen) == before
        # and the same holds for the statistics view
        stats = projections.open_view(url)
        projections.catch_up(store, stats, batch_size=50, stop_after=100)
        counted = stats.counters()
        sgen = stats.live_generation()
        spage = store.read(stats.gen_position(sgen), 40, projections.STATISTICS_TOPICS)
        projection = projections.StatisticsProjection(stats)
        with pytest.raises(PositionMoved):
            projection.process_batch(sgen, 1, spage, projection.begin(sgen))
        assert stats.counters() == counted
    finally:
        store.close()


@pytest.mark.parametrize("size", ["small", "large"], ids=["page in one statement", "page by COPY"])
def test_two_writers_racing_for_the_same_page_one_wins_and_the_other_writes_nothing(url, size):
    """Both start from the same position at the same moment: one page commits, the other gets
    PositionMoved (on PostgreSQL the compare-and-set of a small page, one statement, waits on the
    winner's row lock, then finds the position moved and writes nothing), and the view equals the
    fold of the log."""
    store = open_event_store(url)
    try:
        simulate(store, hours=0.25, contacts=60 if size == "small" else 200)
        view = projections.open_view(url, "queue")
        projections.catch_up(store, view, batch_size=20, stop_after=20)  # the tracking row exists: the race is for its update
        gen = view.live_generation()
        start = view.gen_position(gen)
        assert start > 0
        page = store.read(start, 40 if size == "small" else 2000, QUEUE_TOPICS)
        rows = len({r.event.originator_id for r in page})
        assert (rows < COPY_ROWS) == (size == "small"), rows
        views = [projections.open_view(url, "queue") for _ in range(2)]
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def write(v):
            barrier.wait()
            try:
                QueueProjection(v).fold(gen, start, page, {}, live_only=True)
                outcomes.append("committed")
            except PositionMoved:
                outcomes.append("refused")

        threads = [threading.Thread(target=write, args=(v,)) for v in views]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["committed", "refused"]
        assert view.gen_position(gen) == page[-1].position
        projections.catch_up(store, view)
        assert view_entries(view, gen) == memory_entries(store)[1]
    finally:
        store.close()


def test_a_sqlite_page_moves_its_position_in_one_statement_and_sets_its_sync_once_a_connection(tmp_path):
    """ADR 0039: a SQLite page is BEGIN, one UPDATE that moves the tracking position only from where
    the page started and only while its generation is live, the rows, COMMIT; the connection's
    ``synchronous = NORMAL`` (ADR 0034) is set once, not before every page. The generation's first
    page, a stale start and a switched generation take the statements one by one, and write nothing
    but what they may."""
    url = f"sqlite:///{tmp_path}/queue.db"
    store = open_event_store(url)
    try:
        simulate(store, hours=0.25, contacts=60)
        view = projections.open_view(url, "queue")
        gen = view.live_generation()
        page = store.read(0, 40, QUEUE_TOPICS)
        traced: list[str] = []
        with view.datastore.get_connection(commit=True) as conn:
            conn._sqlite_conn.set_trace_callback(traced.append)
        QueueProjection(view).fold(gen, 0, page, {}, live_only=True)  # the first page: the row is made
        assert any(t.startswith("INSERT INTO tracking") for t in traced) and view.gen_position(gen) == page[-1].position
        for _ in range(2):
            start = view.gen_position(gen)
            page = store.read(start, 40, QUEUE_TOPICS)
            traced.clear()
            QueueProjection(view).fold(gen, start, page, {}, live_only=True)
            end = traced.index("COMMIT")  # the page's write transaction (the fold reads before it)
            begin = max(i for i in range(end) if traced[i] == "BEGIN")
            kinds = [t.split()[0] for t in traced[begin : end + 1]]
            rows = len(kinds) - 3  # the upsert's rows (its statement traced once a row)
            assert rows > 0 and kinds == ["BEGIN", "UPDATE", *["INSERT"] * rows, "COMMIT"], traced[begin:]
            assert not any("synchronous" in t for t in traced), traced
            assert view.gen_position(gen) == page[-1].position
        # a stale start and a switched generation are refused as before, nothing written
        start = view.gen_position(gen)
        page = store.read(start, 40, QUEUE_TOPICS)
        before = view_entries(view, gen)
        with pytest.raises(PositionMoved):
            QueueProjection(view).fold(gen, start - 1, page, {}, live_only=True)
        assert view.gen_position(gen) == start and view_entries(view, gen) == before
        new, _ = projections.rebuild(store, view)
        with pytest.raises(GenerationSwitched):
            QueueProjection(view).fold(gen, start, page, {}, live_only=True)
        assert view.gen_position(gen) == start and view.live_generation() == new
    finally:
        store.close()


def test_the_one_statement_pages_column_types_are_the_tables(pg_url):
    """A small page casts its VALUES to these types (ADR 0033): they must be the table's own."""
    from adapters.views.queue import _COLS, _TYPES

    view = projections.open_view(pg_url, "queue")
    with view.datastore.transaction(commit=False) as curs:
        curs.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = 'dialer_queue2'",
            (view.datastore.schema,),
        )
        declared = {r["column_name"]: r["data_type"] for r in curs.fetchall()}
    assert declared == _TYPES and set(_COLS) == set(_TYPES)


def test_a_page_for_a_generation_no_longer_live_writes_nothing(url):
    store = open_event_store(url)
    try:
        view = queue_view_part_way(store, url)
        old = view.live_generation()
        position = view.gen_position(old)
        new, _ = projections.rebuild(store, view)
        page = store.read(position, 40, QUEUE_TOPICS)
        with pytest.raises(GenerationSwitched) as switched:
            QueueProjection(view).fold(old, position, page, {}, live_only=True)
        assert switched.value.live == new
        assert view.gen_position(old) == position and view.entries(old) == {}
        assert view_entries(view, new) == memory_entries(store)[1]
    finally:
        store.close()


def _snapshot(view, gen):
    """The generation's rows and tracking position, as a database holds them at one commit."""
    name = view._tracking_name(gen)
    with view.datastore.transaction(commit=False) as curs:
        rows = {}
        for table in view.tables:
            curs.execute(view._sql(f"SELECT * FROM {{p}}{table} WHERE gen = %s"), (gen,))
            rows[table] = [dict(r) for r in curs.fetchall()]
    return rows, view.gen_position(gen), name


def _restore(view, gen, snapshot):
    """Put the generation back as it was at the snapshot, as if every page committed after it had
    been lost (what a commit that did not wait for the disk may lose in a power cut, ADR 0034)."""
    rows, position, name = snapshot
    with view.datastore.transaction(commit=True) as curs:
        for table in view.tables:
            curs.execute(view._sql(f"DELETE FROM {{p}}{table} WHERE gen = %s"), (gen,))
            for r in rows[table]:
                marks = ", ".join(["%s"] * len(r))
                curs.execute(view._sql(f"INSERT INTO {{p}}{table} ({', '.join(r)}) VALUES ({marks})"), tuple(r.values()))
        curs.execute(view._sql(f"UPDATE {{p}}{view._tracking_table()} SET notification_id = %s WHERE application_name = %s"), (position, name))


def test_a_view_that_lost_its_last_pages_catches_up_to_the_fold_of_the_log(url):
    """A view's page commits without waiting for the disk (ADR 0034): a power cut may take its last
    pages, rows and tracking position together, never one without the other. What is left is a view
    behind its log, which the next writer folds on from: the view then equals the fold of the log,
    counted once. The engine's port, whose kept position is past the view's, finds it moved."""
    from tests.integration.test_projections import memory_rows, rounded

    store = open_event_store(url)
    try:
        simulate(store, hours=0.25, contacts=60)
        queue, stats = projections.open_view(url, "queue"), projections.open_view(url)
        for view in (queue, stats):
            gen = view.live_generation()
            projections.catch_up(store, view, batch_size=50, stop_after=150)
            kept = _snapshot(view, gen)
            assert 0 < kept[1] < store.max_position()
            projections.catch_up(store, view, batch_size=50)
            assert view.gen_position(gen) > kept[1]  # (a view reads only its topics: not always the head)
            _restore(view, gen, kept)
            assert view.gen_position(gen) == kept[1]
        port = PersistedQueue(store, queue)
        port.refresh()  # from the view's position: catch-up
        assert view_entries(queue) == memory_entries(store)[1]
        projections.catch_up(store, stats)
        assert rounded(stats.counters()) == memory_rows(store)
        # the engine's port folded pages that are then lost: its next fold is refused, and it catches up
        from dialer_domain.model.values import ContactData, PhoneNumber
        from dialer_domain.service_layer.handlers import add_contacts
        from dialer_domain.service_layer.repository import Repository

        lost = _snapshot(queue, queue.live_generation())
        for batch in range(2):
            head = store.max_position()
            rows = [(f"late{batch}-{i}", (PhoneNumber(f"+4520{batch}{i:05d}"),), ContactData(name=f"Late {i}"), 5, None) for i in range(3)]
            add_contacts(Repository(store), campaigns(store)[0], rows, source="test", at=datetime.now(UTC))
            port.observe(store.read(head, 10**6))  # what the engine hands its port after a commit
            port.refresh()
            if batch == 0:
                _restore(queue, queue.live_generation(), lost)
        assert view_entries(queue) == memory_entries(store)[1]
        assert port.queued_count(campaigns(store)[0]) == queue.count_queued(queue.live_generation(), campaigns(store)[0])
    finally:
        store.close()


class LaggingQueue(LiveQueue):
    """An in-memory queue that sees the log late, as a view kept elsewhere may: each batch the
    engine hands it is held back and folded only after ``lag`` later questions."""

    def __init__(self, lag: int) -> None:
        super().__init__()
        self.lag = lag
        self.backlog: list = []
        self.truth = LiveQueue()  # what a current view would say
        self.stale_answers = 0

    def observe(self, batch):
        self.backlog.append([self.lag, list(batch)])
        self.truth.observe(batch)

    def _age(self):
        for item in self.backlog:
            item[0] -= 1
        while self.backlog and self.backlog[0][0] <= 0:
            super().observe(self.backlog.pop(0)[1])

    def take_due(self, *a, **kw):
        self._age()
        return super().take_due(*a, **kw)

    def next_queued(self, *a, **kw):
        self._age()
        found = super().next_queued(*a, **kw)
        if found is not None and self.truth.entries[found].state is not ContactState.QUEUED:
            self.stale_answers += 1
        return found

    def queued_count(self, *a, **kw):
        self._age()
        return super().queued_count(*a, **kw)


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PREVIEW, DialMode.AUTO])
def test_a_view_that_lags_never_causes_a_second_dial(mode):
    store = open_event_store("memory:")
    lagging = LaggingQueue(lag=25)
    result = simulate(store, queue=lagging, mode=mode, agents=5, contacts=300, hours=1.5)
    assert lagging.stale_answers > 20, "the view should have offered contacts that were no longer queued"
    events = [r.event for r in store.read(0, 10**8)]
    dials = [e for e in events if isinstance(e, DialAttempted)]
    assert len(dials) > 100 and result.summary["connects"] > 0
    check_no_contact_dialled_twice_at_once(events)
    check_attempts_and_redial_delay(events)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(list(DialMode)),
    agents=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    minutes=st.integers(10, 50),
    batch=st.integers(1, 300),
)
def test_property_for_random_histories_the_rebuilt_queue_equals_the_live_one_and_the_fold(tmp_path_factory, mode, agents, seed, minutes, batch):
    url = f"sqlite:///{tmp_path_factory.mktemp('q')}/h.db"
    store = open_event_store(url)
    try:
        queue = PersistedQueue(store, projections.open_view(url, "queue"), batch_size=batch)
        simulate(store, queue=queue, mode=mode, agents=agents, seed=seed, hours=minutes / 60, contacts=agents * minutes * 2 + 20)
        queue.refresh()
        live = view_entries(queue.view)
        projections.rebuild(store, queue.view, batch_size=batch)
        assert view_entries(queue.view) == live == memory_entries(store)[1]
    finally:
        store.close()


def test_a_follower_keeps_the_queue_view_current(url):
    """`dialer stats follow --projection queue` while another process writes: woken by PostgreSQL's
    notifications, SQLite's polling."""
    import threading

    from tests.conftest import wait_until
    from tests.integration.test_projections import caught_up

    store = open_event_store(url)
    stop = threading.Event()
    try:
        simulate(store, hours=0.1, contacts=30)  # the engine folds in memory here: the view starts empty
        followed = (open_event_store(url), projections.open_view(url, "queue"))  # the follower's own connections
        follower = threading.Thread(target=projections.follow, args=followed, kwargs={"stop": stop})
        follower.start()
        simulate(store, hours=0.25, contacts=60, seed=12)  # events arrive while it follows
        view = projections.open_view(url, "queue")
        wait_until(lambda: caught_up(store, view, QUEUE_TOPICS), what="the follower")
        stop.set()
        follower.join(60)
        assert view_entries(view) == memory_entries(store)[1] and len(view_entries(view)) == 90
    finally:
        stop.set()
        store.close()


def test_a_restarted_dialler_on_the_persisted_view_counts_the_abandon_rates_the_log_holds(url):
    """On the persisted view a restarted dialler reads only the last 30 days' dials, answers and
    abandons for the cap (ADR 0020): it counts what a fold of the whole log counts."""
    from adapters.telephony.fake import FakeTelephony
    from dialer_domain.model.identities import seeded_ids
    from dialer_domain.rules.abandon_cap import AbandonLedger

    store = open_event_store(url)
    try:
        simulate(store, queue=bootstrap.queue(store, url), hours=0.5)
        log = store.read(0, 10**8)
        full = AbandonLedger()
        for r in log:
            full.apply(r.event)
        end = log[-1].event.timestamp

        class Stopped:
            def now(self):
                return end

        engine = bootstrap.dialler(store, FakeTelephony(), Stopped(), seeded_ids(3), queue=bootstrap.queue(store, url))
        engine.sync()
        [cid] = campaigns(store)
        counted = engine.folds.abandons.windows(cid, end)
        assert counted == full.windows(cid, end) and counted[0].answered > 20
    finally:
        store.close()


_REGIONS = st.sampled_from(["north", "North", "south", "east", ""])
_AGES = st.one_of(st.none(), st.integers(-5, 120).map(str), st.sampled_from(["old", "Young", "10.5"]))
_FILTERS = st.sampled_from([None, "region = 'north'", "age >= 30 or region in ('east', 'south')", "not (age < 18) and region is not empty"])
_SORTS = st.sampled_from([(), ("age desc",), ("region", "age desc"), ("name desc", "region asc")])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=st.lists(st.tuples(_REGIONS, _AGES, st.integers(1, 10), st.integers(0, 3)), min_size=1, max_size=40),
    first=st.tuples(_FILTERS, _SORTS),
    second=st.tuples(_FILTERS, _SORTS),
)
def test_with_any_filter_and_sort_order_the_persisted_view_and_the_live_queue_give_the_same_order(tmp_path_factory, t0, people, first, second):
    """R10's property: whatever the list, the filter and the sort order (changed once midway), the
    persisted view and the in-memory queue agree on what is due, in what order, and what is left out."""
    from uuid import uuid4

    from dialer_domain.model.campaign import Campaign
    from dialer_domain.model.contact import ContactAttempt
    from dialer_domain.model.values import CampaignSettings, ContactData, ListSelection, PhoneNumber
    from dialer_domain.service_layer.repository import Repository

    store = open_event_store(f"sqlite:///{tmp_path_factory.mktemp('prop')}/q.db")
    try:
        repo = Repository(store)
        camp_id = uuid4()
        camp = Campaign.create(camp_id, name="P", manager="m", dial_mode=DialMode.PROGRESSIVE, settings=CampaignSettings(skill="s"), at=t0)
        repo.save(camp)

        def select(choice, minute):
            expression, sort = choice
            camp.set_selection(ListSelection(filters={"f": expression} if expression else {}, active="f" if expression else None, sort=sort),
                               t0 + timedelta(minutes=minute), "test")
            repo.save(camp)

        select(first, 0)
        for i, (region, age, priority, minute) in enumerate(people):
            fields = {k: v for k, v in (("region", region), ("age", age)) if v}
            c = ContactAttempt.import_(uuid4(), campaign_id=camp_id, key=f"k{i:03d}", numbers=(PhoneNumber("+4520000000"),),
                                       data=ContactData(name=f"N{i % 7}", fields=fields), priority=priority, at=t0 + timedelta(minutes=minute))
            if i % 9 == 4:
                c.schedule_callback(t0 + timedelta(minutes=30 + i % 5), agent_id=None, by="test", now=t0 + timedelta(minutes=5))
            repo.save(c)
            if i == len(people) // 2:
                select(second, 4)
        live = LiveQueue()
        live.observe(store.read(0, 10**6))
        persisted = PersistedQueue(store, bootstrap.view(store.url, "queue"))
        try:
            for minutes in (10, 60):
                now = t0 + timedelta(minutes=minutes)
                assert live.take_due(camp_id, now, 100) == persisted.take_due(camp_id, now, 100)
            assert live.listed(camp_id) == persisted.listed(camp_id)
            assert live.unassigned(camp_id) == persisted.unassigned(camp_id)
        finally:
            persisted.view.factory.close()
    finally:
        store.close()
