"""One contract, three stores: memory (POPO), SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar
from uuid import uuid4

import attrs
import orjson
import pytest
from eventsourcing.persistence import IntegrityError as PersistenceIntegrityError
from eventsourcing.persistence import StoredEvent

from adapters.persistence.eventstore import CattrsMapper, EventRegistry, UnknownEventType, open_event_store
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.errors import ConcurrencyError
from dialer_domain.model.events import ALL_EVENTS, AgentPaused, ContactQueued, ContactReturnedToList, DialAttempted, DomainEvent
from dialer_domain.model.values import CampaignSettings, DialMode, OpeningHours, Period
from dialer_domain.service_layer.repository import Repository
from tests.fakes import InMemoryEventStore


def _queued(stream, version, at):
    return ContactQueued(originator_id=stream, originator_version=version, timestamp=at, campaign_id=stream)


def _soon(store, block, seconds=60.0):
    """Run ``block`` in a thread and wait for it: a deadlock on the connection (a statement while
    a COPY is open) fails the test instead of hanging the suite. On PostgreSQL the stuck
    transaction's server process is ended, so that the test's schema can be dropped."""
    out = {}

    def run():
        try:
            block()
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        datastore = getattr(store, "recorder", None) and getattr(store.recorder, "datastore", None)
        if datastore is not None and hasattr(datastore, "pool"):
            import psycopg

            with psycopg.connect(datastore.pool.conninfo, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE strpos(query, %s) > 0", (f'"{datastore.schema}"',))
        raise AssertionError(f"the block did not finish in {seconds:.0f} s: a deadlock on the connection?")
    if "error" in out:
        raise out["error"]


def _bulk(at, n):
    """``n`` new streams' first events, mapped as a list import's workers map them."""
    mapper = CattrsMapper()
    return [mapper.to_stored_event(_queued(uuid4(), 1, at)) for _ in range(n)]


class EventStoreContract:
    """The EventStore port's contract, written once; a subclass per backend gives ``store``."""

    @pytest.fixture
    def store(self, *args):
        raise NotImplementedError

    def test_append_and_load_round_trip(self, store, t0):
        from datetime import time

        hours = OpeningHours("Europe/Copenhagen", {0: (Period(time(9), time(12)), Period(time(13), time(17)))})
        c = Campaign.create(
            uuid4(),
            name="Win-back",
            manager="ann",
            dial_mode=DialMode.POWER,
            settings=CampaignSettings(skill="s"),
            hours=hours,
            at=t0,
        )
        c.change_priority(9, t0 + timedelta(minutes=1), "test")
        Repository(store).save(c)
        loaded = Repository(store).get(Campaign, c.id)
        assert loaded == c
        assert loaded.hours == hours and loaded.priority == 9
        assert [e.originator_version for e in store.load(c.id)] == [1, 2]
        assert [e.originator_version for e in store.load(c.id, up_to_version=1)] == [1]
        assert store.load(uuid4()) == []


    def test_log_is_read_in_order_from_a_position(self, store, t0):
        a, b = uuid4(), uuid4()
        store.append([_queued(a, 1, t0)])
        store.append([_queued(b, 1, t0), _queued(b, 2, t0)])
        store.append([_queued(a, 2, t0)])
        everything = store.read(0, 100)
        assert [(r.event.originator_id, r.event.originator_version) for r in everything] == [(a, 1), (b, 1), (b, 2), (a, 2)]
        positions = [r.position for r in everything]
        assert positions == sorted(positions) and len(set(positions)) == 4
        after_second = store.read(positions[1], 2)
        assert [r.position for r in after_second] == positions[2:4]
        assert store.max_position() == positions[-1]


    def test_an_append_returns_the_positions_its_events_are_read_at(self, store, t0):
        # appends of several sizes and streams, a refused one between them (it takes no position)
        streams = [uuid4() for _ in range(4)]
        versions = dict.fromkeys(streams, 0)
        returned: dict[tuple[object, int], int] = {}
        for size in (1, 3, 7, 2, 1, 12, 5):
            batch = []
            for i in range(size):
                s = streams[(size + i) % len(streams)]
                versions[s] += 1
                batch.append(_queued(s, versions[s], t0))
            positions = store.append(batch)
            assert len(positions) == size
            returned.update(((e.originator_id, e.originator_version), p) for e, p in zip(batch, positions, strict=True))
            with pytest.raises(ConcurrencyError):
                store.append([_queued(streams[0], versions[streams[0]] + 2, t0)])  # a gap: refused
        read = {(r.event.originator_id, r.event.originator_version): r.position for r in store.read(0, 1000)}
        assert read == returned
        assert store.max_position() == max(returned.values())


    def test_several_streams_load_together_as_each_loads_alone(self, store, t0, monkeypatch):
        from adapters.persistence import streams

        monkeypatch.setattr(streams, "STREAMS_PER_QUERY", 3)  # several queries: 7 streams, 3 a query
        ids = [uuid4() for _ in range(7)]
        for n, sid in enumerate(ids):
            store.append([_queued(sid, v, t0 + timedelta(seconds=v)) for v in range(1, n + 2)])
        other, missing = uuid4(), uuid4()
        store.append([_queued(other, 1, t0)])
        asked = [*reversed(ids), missing, ids[2]]  # in any order, one not stored, one twice
        together = store.load_many(asked)
        assert together == {sid: store.load(sid) for sid in ids}
        assert [len(together[sid]) for sid in ids] == [1, 2, 3, 4, 5, 6, 7]
        assert other not in together and missing not in together
        assert store.load_many([]) == {}

    def test_two_writers_at_the_same_version_exactly_one_wins(self, store, t0):
        stream = uuid4()
        store.append([_queued(stream, 1, t0)])
        results: list[str] = []
        barrier = threading.Barrier(2)

        def writer(tag: str) -> None:
            barrier.wait()
            try:
                store.append([_queued(stream, 2, t0 + timedelta(seconds=1))])
                results.append("won")
            except ConcurrencyError:
                results.append("conflict")

        threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["conflict", "won"]
        assert [e.originator_version for e in store.load(stream)] == [1, 2]


    def test_a_conflicting_batch_stores_nothing(self, store, t0):
        a, b = uuid4(), uuid4()
        store.append([_queued(a, 1, t0)])
        with pytest.raises(ConcurrencyError, match="another writer"):
            store.append([_queued(b, 1, t0), _queued(a, 1, t0)])
        assert store.load(b) == []


    def test_a_version_gap_is_refused_and_nothing_is_stored(self, store, t0):
        a, b = uuid4(), uuid4()
        store.append([_queued(a, 1, t0)])
        with pytest.raises(ConcurrencyError, match="does not follow"):
            store.append([_queued(b, 1, t0), _queued(a, 3, t0)])
        with pytest.raises(ConcurrencyError, match="does not follow"):
            store.append([_queued(a, 2, t0), _queued(a, 4, t0)])  # a gap inside one append
        assert store.load(b) == [] and [e.originator_version for e in store.load(a)] == [1]
        store.append([_queued(a, 2, t0), _queued(a, 3, t0)])
        assert [e.originator_version for e in store.load(a)] == [1, 2, 3]


    def test_a_topic_filter_reads_only_the_named_events(self, store, t0):
        a = uuid4()
        store.append([_queued(a, 1, t0), AgentPaused(originator_id=a, originator_version=2, timestamp=t0, reason_code="break", note="")])
        store.append([_queued(a, 3, t0)])
        only = store.read(0, 10, topics=("AgentPaused",))
        assert [(r.event.NAME, r.event.originator_version) for r in only] == [("AgentPaused", 2)]
        assert [r.position for r in store.read(0, 10)][1] == only[0].position  # positions are the log's, not the filter's


class RecorderStoreContract(EventStoreContract):
    """The adapter on the library's recorders also: the database refuses a gap from any writer,
    stored states are upcast, unknown names are refused."""

    def test_the_database_refuses_a_gap_from_any_writer(self, store, t0):
        a = uuid4()
        store.append([_queued(a, 1, t0)])
        raw = CattrsMapper().to_stored_event(_queued(a, 3, t0))  # not through this adapter
        with pytest.raises(PersistenceIntegrityError):
            store.recorder.insert_events([raw])
        assert [e.originator_version for e in store.load(a)] == [1]


    def test_the_log_read_in_pages_is_the_librarys_selection_decoded(self, store, t0):
        """On PostgreSQL the store reads the log with a statement of its own (ADR 0036): page by
        page, with and without a topic filter, it reads what the library's ``select_notifications``
        selects, decoded, and a version-1 state through its upcaster."""
        a, b = uuid4(), uuid4()
        store.append([_queued(a, 1, t0), AgentPaused(originator_id=a, originator_version=2, timestamp=t0, reason_code="break", note="")])
        for v in range(1, 8):
            store.append([_queued(b, v, t0 + timedelta(seconds=v))])
        v1 = {"_v": 1, "timestamp": t0.isoformat(), "reason": "Break"}
        store.recorder.insert_events([StoredEvent(originator_id=a, originator_version=3, topic="AgentPaused", state=json.dumps(v1).encode())])
        mapper = CattrsMapper()
        for topics in ((), ("AgentPaused",), ("ContactQueued", "AgentPaused")):
            for after, limit in ((0, 100), (0, 3), (2, 4), (5, 1), (store.max_position(), 10)):
                ours = store.read(after, limit, topics)
                theirs = store.recorder.select_notifications(start=after, limit=limit, topics=list(topics), inclusive_of_start=False)
                assert [(r.position, r.event) for r in ours] == [(n.id, mapper.to_domain_event(n)) for n in theirs], (topics, after, limit)
        [upcast] = [r.event for r in store.read(0, 100, ("AgentPaused",)) if r.event.originator_version == 3]
        assert (upcast.reason_code, upcast.note) == ("break", "")

    def test_a_stored_version_1_event_is_read_through_its_upcaster(self, store, t0):
        stream = uuid4()
        v1_state = {"_v": 1, "timestamp": t0.isoformat(), "reason": "Break"}
        stored = StoredEvent(originator_id=stream, originator_version=1, topic="AgentPaused", state=json.dumps(v1_state).encode())
        store.recorder.insert_events([stored])
        [event] = store.load(stream)
        assert store.load_many([stream]) == {stream: [event]}
        assert isinstance(event, AgentPaused)
        assert (event.reason_code, event.note) == ("break", "")
        # and a v2 event round-trips as itself, stamped with its schema version
        store.append([AgentPaused(originator_id=stream, originator_version=2, timestamp=t0, reason_code="other", note="dentist")])
        stored = store.recorder.select_events(stream)[-1]
        assert json.loads(stored.state)["_v"] == 2
        assert store.load(stream)[-1].note == "dentist"

    def test_v1_dials_and_returns_to_the_list_are_read_with_no_evidence_and_no_time_to_wait(self, store, t0):
        stream, campaign, call = uuid4(), uuid4(), uuid4()
        dial = {"_v": 1, "timestamp": t0.isoformat(), "campaign_id": str(campaign), "call_id": str(call), "number": "+4520000001",
                "number_index": 0, "attempt_no": 1, "dial_mode": "power", "agent_id": None, "decision_id": None,
                "checks": ["campaign_open"], "caller_id_number": "+4570000000", "caller_id_name": "Co", "max_ring_seconds": 25}
        back = {"_v": 1, "timestamp": t0.isoformat(), "reason": "campaign disabled"}
        store.recorder.insert_events([
            StoredEvent(originator_id=stream, originator_version=1, topic="DialAttempted", state=json.dumps(dial).encode()),
            StoredEvent(originator_id=stream, originator_version=2, topic="ContactReturnedToList", state=json.dumps(back).encode()),
        ])
        progressed = {"_v": 1, "timestamp": t0.isoformat(), "call_id": str(call), "progress": "answered_machine"}
        stored = StoredEvent(originator_id=stream, originator_version=3, topic="CallProgressed", state=json.dumps(progressed).encode())
        store.recorder.insert_events([stored])
        d, r, p = store.load(stream)
        assert p.progress.value == "answered_machine" and p.reported_at is None
        assert isinstance(d, DialAttempted) and (d.calling_policy, d.callee_zones, d.callee_zone_source, d.callee_local_times) == ("", (), "", ())
        assert (d.dnc_checked, d.callback, d.placed_for) == ((), False, None)
        assert isinstance(r, ContactReturnedToList) and r.not_before is None and r.reason == "campaign disabled"
        assert r.reason_code == "campaign_disabled"  # v1 and v2 had the words only: the code is read from them

    def test_causes_stored_before_codes_are_read_with_the_code_their_words_have(self, store, t0):
        stream, call = uuid4(), uuid4()
        ended = {"_v": 1, "timestamp": t0.isoformat(), "call_id": str(call), "outcome": "busy", "reason": "486 Busy Here",
                 "counts_as_attempt": True, "talk_seconds": 0.0, "next_dial_at": None}
        abandoned = {"_v": 1, "timestamp": t0.isoformat(), "call_id": str(call), "wait_seconds": 2.1, "reason": "no agent free within 2s"}
        back = {"_v": 2, "timestamp": t0.isoformat(), "reason": "callee_local_hours: 21:30 in America/New_York", "not_before": None}
        skipped = {"_v": 1, "timestamp": t0.isoformat(), "number_index": 0, "number": "+4520000001",
                   "reason": "not_on_do_not_call: +4520000001 is on do-not-call list internal"}
        done = {"_v": 1, "timestamp": t0.isoformat(), "reason": "3 attempts, the campaign's maximum per contact"}
        store.recorder.insert_events([
            StoredEvent(originator_id=stream, originator_version=v, topic=topic, state=json.dumps(state).encode())
            for v, (topic, state) in enumerate(
                [("CallEnded", ended), ("CallAbandoned", abandoned), ("ContactReturnedToList", back), ("NumberSkipped", skipped),
                 ("AttemptsExhausted", done)], start=1)
        ])
        codes = [e.reason_code for e in store.load(stream)]
        assert codes == ["network", "abandoned_no_agent", "refused_callee_local_hours", "refused_not_on_do_not_call", "max_attempts_per_contact"]
        # a new event keeps the code it was written with, whatever its words
        back_again = ContactReturnedToList(originator_id=stream, originator_version=6, timestamp=t0, reason="anything", reason_code="campaign_closed")
        store.append([back_again])
        assert store.load(stream)[-1].reason_code == "campaign_closed"


    def test_campaigns_and_dispositions_stored_before_issue_17_keep_their_meaning(self, store, t0):
        from dialer_domain.model.values import CampaignSettings

        camp, contact = uuid4(), uuid4()
        old_settings = {k: v for k, v in CattrsMapper().converter.unstructure(CampaignSettings(skill="s")).items()
                        if k not in ("dispositions", "callback_outside_hours")}
        old_settings |= {"dispositions": ["answering_machine", "busy", "fax", "no_answer", "sale", "voicemail", "stop"],
                         "do_not_call_dispositions": ["stop"]}
        created = {"_v": 1, "timestamp": t0.isoformat(), "name": "Old", "description": "", "manager": "m", "priority": 5,
                   "dial_mode": "power", "settings": old_settings, "hours": None}
        changed = {"_v": 1, "timestamp": t0.isoformat(), "settings": old_settings}
        disposed = {"_v": 1, "timestamp": t0.isoformat(), "call_id": None, "code": "sale", "agent_id": "a1", "note": ""}
        store.recorder.insert_events([
            StoredEvent(originator_id=camp, originator_version=1, topic="CampaignCreated", state=json.dumps(created).encode()),
            StoredEvent(originator_id=camp, originator_version=2, topic="CampaignSettingsChanged", state=json.dumps(changed).encode()),
            StoredEvent(originator_id=contact, originator_version=1, topic="DispositionRecorded", state=json.dumps(disposed).encode()),
        ])
        c, ch = store.load(camp)
        for settings in (c.settings, ch.settings):
            by_code = {d.code: d for d in settings.dispositions}
            assert (by_code["sale"].success, by_code["sale"].ends_contact, by_code["busy"].success) == (True, True, False)
            assert (by_code["stop"].do_not_call, by_code["busy"].do_not_call) == (True, False)
            assert settings.callback_outside_hours == "refuse"
        assert ch.changed_by == ""  # v1 did not say who
        [d] = store.load(contact)
        assert (d.success, dict(d.answers)) == (True, {})


    def test_unknown_event_names_are_rejected_with_a_clear_error(self, store, t0):
        stream = uuid4()
        store.recorder.insert_events([StoredEvent(originator_id=stream, originator_version=1, topic="dialer.events:Mystery", state=b"{}")])
        with pytest.raises(UnknownEventType, match=r"'dialer.events:Mystery' is not registered"):
            store.load(stream)


    def test_a_transactions_bulk_and_ordinary_appends_commit_together_in_the_order_made(self, store, t0):
        """ADR 0046: on PostgreSQL a transaction's bulk appends go by one COPY, ended before an
        ordinary append and at the block's end; the log holds every event in the order made."""
        a, b, c, lone = _bulk(t0, 150), _bulk(t0, 120), _bulk(t0, 130), uuid4()

        def block():
            with store.transaction():
                store.append_stored(a)
                store.append_stored(b)
                store.append([_queued(lone, 1, t0)])
                store.append_stored(c)

        _soon(store, block)
        log = [r.event.originator_id for r in store.read(0, 1000)]
        assert log == [e.originator_id for e in a + b] + [lone] + [e.originator_id for e in c]

    def test_a_clash_in_a_transactions_bulk_appends_stores_nothing_of_the_transaction(self, store, t0):
        old, lone = uuid4(), uuid4()
        store.append([_queued(old, 1, t0)])
        fresh, clash = _bulk(t0, 150), [*_bulk(t0, 149), CattrsMapper().to_stored_event(_queued(old, 1, t0))]

        def block():
            with store.transaction():
                store.append_stored(fresh)
                store.append([_queued(lone, 1, t0)])
                store.append_stored(clash)

        with pytest.raises(ConcurrencyError, match="another writer appended first; none of these were stored"):
            _soon(store, block)
        assert [r.event.originator_id for r in store.read(0, 1000)] == [old]  # nothing of it, before or after the clash
        store.append([_queued(lone, 1, t0)])  # and the store goes on
        assert [e.originator_version for e in store.load(lone)] == [1]

    def test_a_block_that_fails_after_bulk_appends_stores_none_of_them_and_the_store_goes_on(self, store, t0):
        rows = _bulk(t0, 150)

        def failing():
            with store.transaction():
                store.append_stored(rows)
                raise RuntimeError("the caller's own failure")

        def again():
            with store.transaction():  # the connection the COPY was abandoned on works again
                store.append_stored(rows)

        with pytest.raises(RuntimeError, match="the caller's own failure"):
            _soon(store, failing)
        assert store.read(0, 1000) == []
        _soon(store, again)
        assert len(store.read(0, 1000)) == 150


class TestMemoryStore(RecorderStoreContract):
    @pytest.fixture
    def store(self):
        s = open_event_store("memory:")
        yield s
        s.close()


class TestSQLiteStore(RecorderStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        s = open_event_store(f"sqlite:///{tmp_path}/contract.db")
        yield s
        s.close()


class TestPostgresStore(RecorderStoreContract):
    @pytest.fixture
    def store(self, pg_url):
        s = open_event_store(pg_url)
        yield s
        s.close()


class TestInMemoryFake(EventStoreContract):
    """The fake that unit and handler tests use keeps the same contract as the real stores."""

    @pytest.fixture
    def store(self):
        return InMemoryEventStore()


def _open_and_write(url: str) -> None:
    from adapters.views.statistics import open_view

    s = open_event_store(url)
    for projection in ("statistics", "queue"):
        open_view(url, projection).factory.close()
    s.append([_queued(uuid4(), 1, datetime.now(UTC))])
    s.close()


def test_ten_processes_opening_a_fresh_postgres_store_at_once_all_succeed(pg_url):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_and_write, args=(pg_url,)) for _ in range(10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 10
    s = open_event_store(pg_url)
    assert s.max_position() == 10
    s.close()


def test_a_postgres_append_waits_for_the_tables_lock_notifies_and_returns_its_positions_in_order(pg_url, t0):
    """ADR 0035: an append is one statement, and in it the events table's lock (positions commit in
    their order: a reader never passes one that commits later) and the library's notification."""
    import psycopg

    from tests.conftest import _psycopg_url, wait_until

    store = open_event_store(pg_url)
    rec = store.recorder
    try:
        listener = psycopg.connect(_psycopg_url(pg_url), autocommit=True)
        listener.execute(f'LISTEN "{rec.channel_name}"')
        stream = uuid4()
        first = store.append([_queued(stream, v, t0) for v in (1, 2, 3)])
        assert first == [1, 2, 3]
        assert [n.channel for n in listener.notifies(timeout=10, stop_after=1)] == [rec.channel_name]
        # another inserter's open transaction (it holds ROW EXCLUSIVE, as any INSERT does, which a
        # second plain INSERT would not wait for) makes the append wait until it commits
        holding, release = threading.Event(), threading.Event()
        appended: list[list[int]] = []

        def hold():
            with psycopg.connect(_psycopg_url(pg_url)) as conn:
                conn.execute(f'LOCK TABLE "{rec.datastore.schema}"."{rec.events_table_name}" IN ROW EXCLUSIVE MODE')
                conn.execute(
                    f'INSERT INTO "{rec.datastore.schema}"."{rec.events_table_name}" (originator_id, originator_version, topic, state) '
                    "VALUES (%s, 1, %s, %s)",
                    (uuid4(), "ContactQueued", store.mapper.to_stored_event(_queued(uuid4(), 1, t0)).state),
                )
                holding.set()
                release.wait(30)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(30)
        other = uuid4()
        appender = threading.Thread(target=lambda: appended.append(store.append([_queued(other, v, t0) for v in (1, 2)])))
        appender.start()
        waiting = "SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = %s AND NOT l.granted"
        with psycopg.connect(_psycopg_url(pg_url), autocommit=True) as look:
            wait_until(lambda: look.execute(waiting, (rec.events_table_name,)).fetchone()[0] == 1, what="the append waiting on the lock", timeout=30)
        assert appended == []
        release.set()
        holder.join(30)
        appender.join(30)
        assert appended == [[5, 6]], "after the holder's position 4, in the events' order"
        listener.close()
    finally:
        store.close()


def test_a_clash_in_a_postgres_transactions_copy_is_raised_at_its_next_statement_naming_the_row(pg_url, t0):
    """ADR 0046: the transaction's open COPY is ended before another statement on its connection,
    so a clash in it is raised there, with PostgreSQL's detail naming the row (the message lists
    only the COPY's first streams)."""
    store = open_event_store(pg_url)
    try:
        old = uuid4()
        store.append([_queued(old, 1, t0)])
        clash = [*_bulk(t0, 149), CattrsMapper().to_stored_event(_queued(old, 1, t0))]
        reached = []

        def block():
            with store.transaction():
                store.append_stored(clash)
                reached.append("bulk")  # the COPY is still open: PostgreSQL has not answered
                store.append([_queued(uuid4(), 1, t0)])
                reached.append("ordinary")

        with pytest.raises(ConcurrencyError, match=f"and 145 more .*{old}, 1\\) already exists"):
            _soon(store, block)
        assert reached == ["bulk"]
        assert [r.event.originator_id for r in store.read(0, 1000)] == [old]
    finally:
        store.close()


def test_a_postgres_store_made_before_the_append_function_gets_it_when_opened(pg_url, t0):
    from adapters.persistence.schema import APPEND_FUNCTION

    store = open_event_store(pg_url)
    schema = store.recorder.datastore.schema
    with store.recorder.datastore.get_connection() as conn:
        conn.execute(f'DROP FUNCTION "{schema}".{APPEND_FUNCTION}')
    store.close()
    store = open_event_store(pg_url)
    try:
        assert store.append([_queued(uuid4(), 1, t0)]) == [1]
        # the function's arrays are the library's columns (a library that changed its table fails here)
        with store.recorder.datastore.get_connection() as conn:
            declared = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (schema, store.recorder.events_table_name),
            ).fetchall()
        assert {(r["column_name"], r["data_type"]) for r in declared} == {
            ("originator_id", "uuid"), ("originator_version", "bigint"), ("topic", "text"), ("state", "bytea"), ("notification_id", "bigint")
        }
    finally:
        store.close()


# ---------------------------------------------------------------- registry rules (no store needed)


def test_every_event_has_a_unique_stable_name():
    names = [e.NAME for e in ALL_EVENTS]
    assert len(names) == len(set(names)) and all(names)
    assert all("." not in n and ":" not in n for n in names)  # never a module path


def test_a_test_event_with_two_upcasters_is_upcast_in_sequence(t0):
    @attrs.frozen(kw_only=True)
    class Renamed(DomainEvent):
        NAME: ClassVar[str] = "Renamed"
        VERSION: ClassVar[int] = 3
        full_name: str
        source: str

    upcasters = {
        ("Renamed", 1): lambda s: {**{k: v for k, v in s.items() if k != "name"}, "full_name": s["name"]},
        ("Renamed", 2): lambda s: {**s, "source": "legacy"},
    }
    mapper = CattrsMapper(EventRegistry([Renamed], upcasters))
    stream = uuid4()
    old = StoredEvent(stream, 1, "Renamed", json.dumps({"_v": 1, "timestamp": t0.isoformat(), "name": "Ann"}).encode())
    event = mapper.to_domain_event(old)
    assert (event.full_name, event.source) == ("Ann", "legacy")


def test_a_registry_refuses_a_versioned_event_without_upcasters():
    @attrs.frozen(kw_only=True)
    class Bumped(DomainEvent):
        NAME: ClassVar[str] = "Bumped"
        VERSION: ClassVar[int] = 2

    with pytest.raises(ValueError, match="no upcaster from v1"):
        EventRegistry([Bumped], {})


def test_sqlite_connections_keep_their_statements_prepared_with_the_librarys_other_settings(tmp_path, monkeypatch, t0):
    """The library asks sqlite3 for a statement cache of ``True`` (one statement), so each append
    prepared its INSERT again (issue 18, ADR 0042): the store's and the views' connections are made
    with sqlite3's cache of 128, and otherwise as the library makes them."""
    import sqlite3

    from adapters.persistence.sqlite_pool import STATEMENT_CACHE, StatementCachingPool
    from adapters.views.base import open_view

    made: list[dict[str, object]] = []
    connect = sqlite3.connect

    def recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(kwargs)
        return connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", recorded)
    url = f"sqlite:///{tmp_path}/day.db"
    store = open_event_store(url)
    view = open_view(url, "queue")
    try:
        stream = uuid4()
        assert store.append([_queued(stream, 1, t0), _queued(stream, 2, t0)]) == [1, 2]
        assert store.append([_queued(stream, 3, t0)]) == [3]
        assert [e.originator_version for e in store.load(stream)] == [1, 2, 3]
        with pytest.raises(ConcurrencyError):
            store.append([_queued(stream, 5, t0)])  # the gap trigger still fires
        view.live_generation()
        for pool in (store.recorder.datastore.pool, view.datastore.pool):
            assert isinstance(pool, StatementCachingPool)
        conn = store.recorder.datastore.pool.get_connection()
        try:
            raw = conn._sqlite_conn
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert raw.row_factory is sqlite3.Row and raw.isolation_level is None
        finally:
            store.recorder.datastore.pool.put_connection(conn)
    finally:
        view.factory.close()
        store.close()
    assert made and all(
        (k["cached_statements"], k["isolation_level"], k["check_same_thread"], k["timeout"], k["uri"]) == (STATEMENT_CACHE, None, False, 10, True)
        for k in made
    ), made


def test_store_urls_are_checked():
    from adapters.persistence.eventstore import infrastructure_env

    with pytest.raises(ValueError, match="unsupported DIALER_DATABASE_URL"):
        infrastructure_env("mysql://x/y")
    with pytest.raises(ValueError, match="names no database"):
        infrastructure_env("postgresql://u@h:5432/")
    env = infrastructure_env("postgresql://u@h:5433/db?schema=s1")
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "no"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_SCHEMA"]) == ("h", "5433", "s1")
    assert infrastructure_env("sqlite:///dialer.db")["SQLITE_DBNAME"] == "dialer.db"


def test_every_event_of_simulated_days_round_trips_and_states_written_before_orjson_still_read():
    from adapters.telephony.simulated import WorldParams
    from dialer_domain.model.values import DialMode
    from entrypoints.simulate import SimulationConfig, run_simulation

    mapper = CattrsMapper()
    seen: dict[str, DomainEvent] = {}
    for mode in (DialMode.PREDICTIVE, DialMode.PREVIEW, DialMode.AUTO):
        mem = InMemoryEventStore()
        run_simulation(mem, SimulationConfig(mode=mode, agents=3, contacts=80, hours=0.5, seed=4, world=WorldParams(p_callback=0.3)))
        for r in mem.read(0, 10**6):
            seen.setdefault(r.event.NAME, r.event)
            stored = mapper.to_stored_event(r.event)
            assert mapper.to_domain_event(stored) == r.event
            # the encoding used before orjson: the standard library's compact JSON
            legacy = json.loads(stored.state)
            old = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, json.dumps(legacy, separators=(",", ":")).encode())
            assert mapper.to_domain_event(old) == r.event
    assert len(seen) >= 20, sorted(seen)


def test_a_stored_state_that_does_not_fit_its_event_is_refused_naming_the_event_and_what_is_wrong():
    """Decoding's own hooks (enums by value, optional fields, ``adapters.persistence.codec``) read
    what cattrs' generic paths read, and refuse what they refused, with the stored event named."""
    from adapters.persistence.eventstore import EventSchemaError
    from dialer_domain.model.events import CallProgressed
    from dialer_domain.model.values import CallOutcome

    mapper = CattrsMapper()
    stream, call, t0 = uuid4(), uuid4(), datetime(2026, 11, 23, 9, tzinfo=UTC)

    def stored(state: dict, name: str = "CallProgressed", version: int = 3) -> StoredEvent:
        return StoredEvent(stream, version, name, json.dumps(state).encode())

    base = {"_v": 2, "timestamp": t0.isoformat(), "call_id": str(call), "progress": "answered_human"}
    read = mapper.to_domain_event(stored({**base, "reported_at": None}))
    assert read == CallProgressed(originator_id=stream, originator_version=3, timestamp=t0, call_id=call, progress=CallOutcome.ANSWERED_HUMAN)
    assert read.progress is CallOutcome.ANSWERED_HUMAN and read.reported_at is None
    assert mapper.to_domain_event(stored({**base, "reported_at": t0.isoformat()})).reported_at == t0
    assert mapper.to_domain_event(stored({k: v for k, v in base.items() if k != "_v"})).reported_at is None  # v1: upcast

    for state, says in (
        ({**base, "progress": "answered_by_a_dog"}, "'answered_by_a_dog' is not a valid CallOutcome"),
        ({**base, "progress": ["answered_human"]}, "is not a valid CallOutcome"),
        ({**base, "reported_at": "yesterday"}, "yesterday"),
        ({**base, "call_id": "not-a-uuid"}, "does not fit CallProgressed v2"),
        ({**base, "_v": 3}, "stored CallProgressed is schema v3, newer than this code's v2"),
    ):
        with pytest.raises(EventSchemaError, match=says.replace("(", r"\(")):
            mapper.to_domain_event(stored(state))
    with pytest.raises(EventSchemaError, match=f"stored event CallProgressed {stream} v3 is not valid JSON"):
        mapper.to_domain_event(StoredEvent(stream, 3, "CallProgressed", b"{not json"))
    bad_decision = {**_dial_state(call), "decision_id": "0000"}
    with pytest.raises(EventSchemaError, match="does not fit DialAttempted"):
        mapper.to_domain_event(stored(bad_decision, "DialAttempted"))
    decision = uuid4()
    assert mapper.to_domain_event(stored({**_dial_state(call), "decision_id": str(decision)}, "DialAttempted")).decision_id == decision
    assert mapper.to_domain_event(stored({**_dial_state(call), "decision_id": None}, "DialAttempted")).decision_id is None


def _dial_state(call) -> dict:
    return {
        "_v": 3,
        "timestamp": "2026-11-23T09:00:00+00:00",
        "campaign_id": str(uuid4()),
        "call_id": str(call),
        "number": "+4520000000",
        "number_index": 0,
        "attempt_no": 1,
        "dial_mode": "predictive",
        "agent_id": None,
        "decision_id": None,
        "checks": [],
        "caller_id_number": "+4570000000",
        "caller_id_name": "",
        "max_ring_seconds": 25,
    }


def test_the_generated_decoders_give_cattrs_result_or_its_error_for_every_event_and_every_changed_field():
    """``codec.event_decoder`` inlines the usual conversions; for every event of simulated days, and
    for each of its fields left out or given another JSON value, it gives what cattrs' own function
    for the class gives: the same event, or the same error."""
    from adapters.persistence.codec import event_decoder, make_event_converter
    from adapters.telephony.simulated import WorldParams
    from entrypoints.simulate import SimulationConfig, run_simulation

    conv, mapper = make_event_converter(), CattrsMapper()
    decoders = {cls: event_decoder(conv, cls) for cls in ALL_EVENTS}  # every class gets one

    def outcome(fn, state, cls):
        try:
            event = fn(dict(state), cls)
            return ("event", event, repr(event))  # repr: True and 1, 1 and 1.0 are equal, but not the same
        except Exception as exc:  # the error itself is what is compared
            return ("error", type(exc), str(exc))

    states: dict[str, list[dict]] = {}
    for mode in (DialMode.PREDICTIVE, DialMode.PREVIEW, DialMode.AUTO):
        mem = InMemoryEventStore()
        run_simulation(mem, SimulationConfig(mode=mode, agents=3, contacts=40, hours=0.5, seed=5, world=WorldParams(p_callback=0.3)))
        for r in mem.read(0, 10**6):
            state = json.loads(mapper.to_stored_event(r.event).state)
            del state["_v"]
            state |= {"originator_id": r.event.originator_id, "originator_version": r.event.originator_version}
            assert decoders[type(r.event)](dict(state)) == r.event
            states.setdefault(r.event.NAME, []).append(state)
    assert len(states) >= 20, sorted(states)
    others = (None, 0, 1, 2.5, True, "", "x", "answered_human", "2026-11-23T09:00:00+00:00", str(uuid4()), [], ["a"], {})
    compared = 0
    for name, seen in states.items():
        cls = mapper.registry.resolve(name)
        slow, fast = conv.get_structure_hook(cls), decoders[cls]
        for state in seen[:3]:
            for key in state:
                for changed in ({k: v for k, v in state.items() if k != key}, *({**state, key: o} for o in others)):
                    assert outcome(fast, changed, cls) == outcome(slow, changed, cls), (name, key, changed.get(key))
                    compared += 1
    assert compared > 5000


def test_a_partial_decoder_sets_the_fields_it_reads_as_the_whole_decoder_does_and_no_other(t0):
    """``codec.partial_decoder`` (ADR 0037): the fields read, and every event's stream, version and
    time, are the whole event's; another field is not set; a state it cannot read is decoded whole,
    so it gives the whole event or the whole decoder's error; a field its class converts cannot be
    read this way."""
    from adapters.persistence.codec import make_event_converter, partial_decoder
    from adapters.persistence.eventstore import EventSchemaError
    from dialer_domain.model.events import DispositionRecorded

    mapper = CattrsMapper()
    reads = {DialAttempted: ("campaign_id", "dial_mode")}
    decode = mapper.decoder(reads)
    call = uuid4()
    state = _dial_state(call)
    stored = StoredEvent(uuid4(), 4, "DialAttempted", json.dumps(state).encode())
    whole, sparse = mapper.to_domain_event(stored), decode(stored.topic, stored.state, stored.originator_id, stored.originator_version)
    assert type(sparse) is DialAttempted
    for name in ("originator_id", "originator_version", "timestamp", "campaign_id", "dial_mode"):
        assert getattr(sparse, name) == getattr(whole, name)
    assert sparse.dial_mode is DialMode.PREDICTIVE and sparse.originator_id is whole.originator_id
    with pytest.raises(AttributeError):
        _ = sparse.call_id
    # a state without a field it reads is decoded whole: a required one is refused as the whole decoder refuses it
    without = {k: v for k, v in state.items() if k != "dial_mode"}
    with pytest.raises(EventSchemaError, match="does not fit DialAttempted"):
        decode("DialAttempted", json.dumps(without).encode(), stored.originator_id, 4)
    with pytest.raises(EventSchemaError, match="'answered' is not a valid DialMode"):
        decode("DialAttempted", json.dumps({**state, "dial_mode": "answered"}).encode(), stored.originator_id, 4)
    # a field left out that has a default is the whole decoder's default
    no_policy = {k: v for k, v in state.items() if k != "calling_policy"}
    sparse_policy = mapper.decoder({DialAttempted: ("calling_policy",)})("DialAttempted", json.dumps(no_policy).encode(), stored.originator_id, 4)
    assert sparse_policy == mapper.to_domain_event(StoredEvent(stored.originator_id, 4, "DialAttempted", json.dumps(no_policy).encode()))
    # other classes are decoded whole
    queued = ContactQueued(originator_id=call, originator_version=2, timestamp=t0, campaign_id=call)
    assert decode("ContactQueued", mapper.to_stored_event(queued).state, call, 2) == queued
    conv = make_event_converter()
    with pytest.raises(ValueError, match=r"DispositionRecorded\.answers is converted or checked by its class"):
        partial_decoder(conv, DispositionRecorded, ("answers",))
    with pytest.raises(ValueError, match="no field 'nonsense'"):
        partial_decoder(conv, DialAttempted, ("nonsense",))


def test_an_events_state_is_byte_for_byte_cattrs_unstructuring_dumped_by_orjson(t0):
    """``codec.event_encoder`` writes what the mapper wrote before it: cattrs' dict of the event
    without its stream and version, then ``"_v"``, dumped by orjson. Every event of simulated days
    in three modes (callbacks, pauses, offers), and values orjson would write differently from the
    hooks if they reached it (datetimes in other zones, times, dates, a value class, a frozen map),
    and values that do not fit their field's type."""
    from zoneinfo import ZoneInfo

    from adapters.persistence.codec import make_event_converter
    from adapters.telephony.simulated import WorldParams
    from dialer_domain.model.events import CallbackScheduled, CampaignCreated, ContactImported
    from dialer_domain.model.values import ContactData, PhoneNumber
    from entrypoints.simulate import SimulationConfig, run_simulation

    conv, mapper = make_event_converter(), CattrsMapper()

    def reference(event) -> bytes:
        state = conv.unstructure(event)
        del state["originator_id"], state["originator_version"]
        return orjson.dumps({**state, "_v": type(event).VERSION}, option=orjson.OPT_NON_STR_KEYS)

    seen: set[str] = set()
    events = []
    for mode in (DialMode.PREDICTIVE, DialMode.PREVIEW, DialMode.AUTO):
        mem = InMemoryEventStore()
        run_simulation(mem, SimulationConfig(mode=mode, agents=3, contacts=60, hours=0.5, seed=6, world=WorldParams(p_callback=0.3)))
        events += [r.event for r in mem.read(0, 10**6)]
    created = next(e for e in events if isinstance(e, CampaignCreated))
    stream = uuid4()
    events += [
        attrs.evolve(created, timestamp=datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=ZoneInfo("America/Havana"))),
        attrs.evolve(created, timestamp=datetime(1880, 1, 1, 12, tzinfo=ZoneInfo("Europe/Amsterdam"))),  # orjson: +00:20, isoformat: +00:19:32
        CallbackScheduled(
            originator_id=stream,
            originator_version=5,
            timestamp=t0.replace(tzinfo=None),
            callback_at=t0.astimezone(timezone(timedelta(hours=5, minutes=45))),
            agent_id=None,
            scheduled_by="agent a1",
        ),
        ContactImported(
            originator_id=stream,
            originator_version=1,
            timestamp=t0,
            campaign_id=stream,
            key="k",
            numbers=(PhoneNumber("+4520000000", "home"),),
            data=ContactData(name="Å", time_zone="Europe/Copenhagen", fields={"b": "2", "a": "1"}, variables={"x": "y"}),
            priority=3,
            assigned_agent="a1",
            source="api",
        ),
    ]
    for event in events:
        seen.add(event.NAME)
        assert mapper.to_stored_event(event).state == reference(event), event.NAME
    assert len(seen) >= 20, sorted(seen)
    # values that do not fit their fields' types (already a dict, already text): the encoder's own
    # conversion gives way to orjson's plain writing of them, the same bytes
    odd = attrs.evolve(events[-1], numbers=[{"e164": "+4520000000", "label": "home"}], timestamp=t0.isoformat())
    assert mapper.to_stored_event(odd).state == mapper.to_stored_event(events[-1]).state
