"""Reports drained together are one step and one append (a group commit, ADR 0027): the same
events, in the same order, as one step per report; an append another writer got to first is run
again on fresh state; a report that cannot be acted on takes no other fact with it. Memory,
SQLite and PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.events import CallEnded, CallPlaced, CallProgressed
from dialer_domain.model.identities import seeded_ids
from dialer_domain.model.values import AgentState, CallOutcome, ContactState, DialMode
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.ports import CallReport, ReportKind
from dialer_domain.service_layer.repository import Repository
from tests.conftest import _psycopg_url
from tests.integration.test_conflicts import assert_streams_contiguous, edit_name_behind_the_engines_back
from tests.unit.test_engine import ManualClock, RecordingDesktop, RecordingTelephony, add_campaign, events_of, login


class CountingStore:
    """The store, with its appends counted."""

    def __init__(self, store) -> None:
        self.store, self.appends = store, 0

    def append(self, events):
        self.appends += 1
        return self.store.append(events)

    def __getattr__(self, name):
        return getattr(self.store, name)


def a_world(url):
    store = open_event_store(url)
    clock, tel = ManualClock(), RecordingTelephony()
    counted = CountingStore(store)
    engine = Dialler(counted, tel, clock, seeded_ids(7), desktop=RecordingDesktop())
    add_campaign(engine, DialMode.PROGRESSIVE, 6, "Sales")
    login(engine, "a1", "a2", "a3")
    engine.tick()
    assert len(tel.placed) == 3
    return engine, clock, tel, counted


def reports_for(clock, calls):
    """Each call named by the network; the first answered by a person, the second by a machine,
    the third not answered."""
    first, second, third = calls
    at = clock.t
    return [
        *(CallReport(ReportKind.PLACED, at, call_id=c, network_call_id=f"net-{i}") for i, c in enumerate(calls)),
        CallReport(ReportKind.ANSWERED_HUMAN, at, call_id=first),
        CallReport(ReportKind.ANSWERED_MACHINE, at, call_id=second, detail="machine_start"),
        CallReport(ReportKind.NO_ANSWER, at, call_id=third, detail="no answer"),
        CallReport(ReportKind.ANSWERED_HUMAN, at, call_id=first),  # the network repeats itself: refused by the gate
    ]


@pytest.fixture
def two_worlds(store_url, tmp_path):
    """Two dialers on two stores of the same kind, in the same state."""
    other, conninfo, schema = store_url, _psycopg_url(store_url), f"b{store_url.rpartition('schema=')[2]}"
    if store_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / 'other.db'}"
    elif store_url.startswith("postgresql"):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        other = store_url.replace("schema=", "schema=b")
    worlds = [a_world(store_url), a_world(other)]
    yield worlds
    for _, _, _, s in worlds:
        s.store.close()
    if store_url.startswith("postgresql"):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_batch_of_reports_stores_in_one_append_what_one_step_per_report_stores(two_worlds):
    """The reports' facts are the same, in the same order. Pacing, which each report's own step
    runs, runs once after the batch is stored, and counts the batch's answers."""
    (one, clock1, tel1, store1), (batched, clock2, tel2, store2) = two_worlds
    clock1.advance(9)
    clock2.advance(9)
    start1, start2 = store1.max_position(), store2.max_position()
    appends_before = store2.appends

    for r in reports_for(clock1, tel1.placed):
        one.on_report(r)
    batched.on_reports(reports_for(clock2, tel2.placed))

    assert store2.appends == appends_before + 2  # the batch, then the pacing it asked for
    assert store1.appends - appends_before >= 6  # one per report acted on
    logged1 = [r.event for r in store1.read(start1, 1000)]
    logged2 = [r.event for r in store2.read(start2, 1000)]
    facts = ("CallPlaced", "CallProgressed", "CallConnected", "CallEnded", "ContactReturned", "CallWrapUpStarted", "CallOffered")
    assert [e for e in logged1 if e.NAME in facts] == [e for e in logged2 if e.NAME in facts]
    assert {e.NAME for e in logged2} >= {"CallPlaced", "CallProgressed", "CallConnected", "CallEnded", "PacingDecided", "DialAttempted"}
    [paced] = [e for e in logged2 if e.NAME == "PacingDecided"]
    assert logged2[-1].NAME == "DialAttempted" and paced.estimates["answered_24h"] == 1.0  # after the batch: its answer counted
    assert (tel1.connected, tel1.hung_up) == (tel2.connected, tel2.hung_up)  # effects run, after the append
    assert len(tel1.placed) == len(tel2.placed) == 5  # the two agents the batch freed have calls again
    assert {a: s.state for a, s in one.agents.items()} == {a: s.state for a, s in batched.agents.items()}
    assert_streams_contiguous(store2)


def test_a_batch_another_writer_got_to_first_is_run_again_and_nothing_is_lost(store_url):
    engine, clock, tel, store = a_world(store_url)
    try:
        first, second, third = tel.placed
        answered_contact = engine.calls[first].contact_id
        edit_name_behind_the_engines_back(store.store, answered_contact, "Edited while ringing")
        clock.advance(9)
        appends_before = store.appends
        engine.on_reports(reports_for(clock, tel.placed))

        assert store.appends == appends_before + 3  # refused once, then stored whole; then the pacing it asked for
        fresh = Repository(store.store).get(ContactAttempt, answered_contact)
        assert fresh.state is ContactState.CONNECTED and fresh.data.name == "Edited while ringing"
        assert [c for c, _ in tel.connected] == [first] and fresh.current_call.connected_agent == tel.connected[0][1]  # once, after the stored retry
        ended = {e.call_id: e.outcome for e in events_of(store.store, CallEnded)}
        assert ended == {second: CallOutcome.ANSWERED_MACHINE, third: CallOutcome.NO_ANSWER}
        assert {e.call_id for e in events_of(store.store, CallPlaced)} >= {first, second, third}
        assert_streams_contiguous(store.store)
    finally:
        store.store.close()


def test_a_report_that_cannot_be_acted_on_takes_no_other_fact_of_its_batch_with_it(store_url):
    engine, clock, tel, store = a_world(store_url)
    try:
        first, second, third = tel.placed
        act = engine.on_call_placed

        def broken(call_id, network_call_id):
            if call_id == second:
                raise RuntimeError("the contact of this report cannot take it")
            act(call_id, network_call_id)

        engine.on_call_placed = broken  # type: ignore[method-assign]
        clock.advance(9)
        with pytest.raises(RuntimeError, match="cannot take it"):
            engine.on_reports(reports_for(clock, tel.placed))

        named = {e.call_id: e.network_call_id for e in events_of(store.store, CallPlaced)}
        assert named == {first: "net-0", third: "net-2"}  # the failed report alone is missing
        progressed = {(e.call_id, e.progress) for e in events_of(store.store, CallProgressed)}
        assert {(first, CallOutcome.ANSWERED_HUMAN), (second, CallOutcome.ANSWERED_MACHINE)} <= progressed
        assert {e.call_id for e in events_of(store.store, CallEnded)} == {second, third}
        assert engine.agents[tel.connected[0][1]].state is AgentState.TALKING
        assert_streams_contiguous(store.store)

        def failing(call_id, network_call_id):
            raise RuntimeError(f"cannot take {network_call_id}")

        engine.on_call_placed = failing  # type: ignore[method-assign]
        later = [CallReport(ReportKind.PLACED, clock.t, call_id=c, network_call_id=f"again-{i}") for i, c in enumerate(tel.placed[3:])]
        assert len(later) >= 2  # the end and the machine freed agents: new calls were placed
        with pytest.raises(ExceptionGroup) as raised:
            engine.on_reports(later)
        assert len(raised.value.exceptions) == len(later)
        assert_streams_contiguous(store.store)
    finally:
        store.store.close()
