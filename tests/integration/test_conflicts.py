"""A fact from the network is never dropped: when another writer (the API, an import) changed a
contact first, the engine's step is undone and run again on fresh aggregates. Memory, SQLite and
PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.agent import AgentSession
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.events import CallEnded, ContactUpdated
from dialer_domain.model.identities import agent_session_id_for, seeded_ids
from dialer_domain.model.values import AgentState, CallOutcome, ContactData, ContactState, DialMode
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.repository import Repository
from tests.unit.test_engine import T0, ManualClock, RecordingDesktop, RecordingTelephony, add_campaign, events_of, login


@pytest.fixture
def world(store_url):
    store = open_event_store(store_url)
    clock = ManualClock()
    tel = RecordingTelephony()
    engine = Dialler(store, tel, clock, seeded_ids(7), desktop=RecordingDesktop())
    add_campaign(engine, DialMode.PROGRESSIVE, 3, "Sales")
    yield engine, clock, tel, store
    store.close()


def edit_name_behind_the_engines_back(store, contact_id, name: str) -> None:
    """What the API's PUT does: load, change, append (the engine has not seen it)."""
    repo = Repository(store)
    c = repo.get(ContactAttempt, contact_id)
    c.update(numbers=c.numbers, data=ContactData(name=name), priority=c.priority, source="api", at=T0)
    repo.save(c)


def assert_streams_contiguous(store) -> None:
    versions: dict[object, list[int]] = defaultdict(list)
    for r in store.read(0, 10**6):
        versions[r.event.originator_id].append(r.event.originator_version)
    for stream, vs in versions.items():
        assert vs == list(range(1, len(vs) + 1)), (stream, vs)


def test_a_call_end_after_an_api_edit_during_the_call_is_stored(world):
    engine, clock, tel, store = world
    login(engine, "a1")
    engine.tick()
    call = tel.placed[0]
    clock.advance(8)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    contact_id = engine.calls[call].contact_id
    assert engine.agents["a1"].state is AgentState.TALKING

    edit_name_behind_the_engines_back(store, contact_id, "Renamed during the call")
    clock.advance(60)
    engine.on_call_ended(call, CallOutcome.COMPLETED)

    [ended] = [e for e in events_of(store, CallEnded) if e.call_id == call]
    assert ended.outcome is CallOutcome.COMPLETED
    fresh = Repository(store).get(ContactAttempt, contact_id)
    assert fresh.state is not ContactState.CONNECTED and fresh.data.name == "Renamed during the call"
    session = Repository(store).get(AgentSession, agent_session_id_for("a1", T0.date().isoformat()))
    assert session.state is AgentState.WRAP_UP and engine.agents["a1"].version == session.version
    assert_streams_contiguous(store)

    # the engine goes on, and a new engine starts on the same store
    clock.advance(30)
    engine.tick()
    engine.dispose("a1", "sale")
    restarted = Dialler(store, RecordingTelephony(), clock, seeded_ids(8))
    restarted.sync()
    assert restarted.agents["a1"].version == Repository(store).get(AgentSession, session.id).version
    assert_streams_contiguous(store)


def test_an_answer_after_an_api_edit_while_ringing_connects_the_agent(world):
    engine, clock, tel, store = world
    login(engine, "a1")
    engine.tick()
    call = tel.placed[0]
    contact_id = engine.calls[call].contact_id
    edit_name_behind_the_engines_back(store, contact_id, "Edited while ringing")
    clock.advance(8)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    assert engine.agents["a1"].state is AgentState.TALKING
    assert tel.connected == [(call, "a1")]  # the effect ran once, after the stored retry
    fresh = Repository(store).get(ContactAttempt, contact_id)
    assert fresh.state is ContactState.CONNECTED and fresh.data.name == "Edited while ringing"
    clock.advance(30)
    engine.on_call_ended(call, CallOutcome.COMPLETED)
    assert Repository(store).get(ContactAttempt, contact_id).state is not ContactState.CONNECTED
    assert_streams_contiguous(store)


def test_a_step_that_keeps_conflicting_leaves_the_engine_as_it_was(world, monkeypatch):
    """When the store refuses every try, the step is undone: calls, timers and pacing measurements
    as before, nothing half-applied, and the same fact goes through once the store accepts it."""
    from dialer_domain.model.errors import ConcurrencyError

    engine, clock, tel, store = world
    login(engine, "a1")
    engine.tick()
    call = tel.placed[0]
    clock.advance(8)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    before = (dict(engine.calls), engine.timers.snapshot(), engine.estimators[engine.calls[call].campaign_id].talk.sorted[:])
    session_version = engine.agents["a1"].version
    real_append = store.append

    def refuse(events):
        raise ConcurrencyError("another writer appended first")

    monkeypatch.setattr(store, "append", refuse)
    clock.advance(60)
    with pytest.raises(ConcurrencyError):
        engine.on_call_ended(call, CallOutcome.COMPLETED)
    cid = engine.calls[call].campaign_id
    assert (dict(engine.calls), engine.timers.snapshot(), engine.estimators[cid].talk.sorted) == before
    assert engine.agents["a1"].state is AgentState.TALKING and engine.agents["a1"].version == session_version
    assert tel.hung_up == [] and events_of(store, CallEnded) == []

    monkeypatch.setattr(store, "append", real_append)
    engine.on_call_ended(call, CallOutcome.COMPLETED)
    assert [e.call_id for e in events_of(store, CallEnded)] == [call]
    assert engine.agents["a1"].state is AgentState.WRAP_UP
    assert_streams_contiguous(store)


def test_an_edit_that_conflicts_with_the_engine_is_refused_not_lost(world):
    """A person's command on stale state gets a ConcurrencyError (the API's 409); the engine's fact stays."""
    from dialer_domain.model.errors import ConcurrencyError

    engine, clock, tel, store = world
    login(engine, "a1")
    engine.tick()
    call = tel.placed[0]
    contact_id = engine.calls[call].contact_id
    repo = Repository(store)
    stale = repo.get(ContactAttempt, contact_id)  # the API loaded it ...
    clock.advance(8)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)  # ... the engine stored an answer ...
    stale.update(numbers=stale.numbers, data=ContactData(name="late edit"), priority=stale.priority, source="api", at=T0 + timedelta(seconds=9))
    with pytest.raises(ConcurrencyError, match="another writer appended first"):
        repo.save(stale)  # ... and the API's append is refused
    assert [e for e in events_of(store, ContactUpdated) if e.originator_id == contact_id] == []
    assert Repository(store).get(ContactAttempt, contact_id).state is ContactState.CONNECTED
