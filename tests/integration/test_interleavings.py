"""A property over random interleavings of engine steps, API edits and withdrawals, list imports and
followers, against one store (SQLite and PostgreSQL): over the whole log every stream is
contiguous, every call that started has an end, no contact is left in a call, a restarted engine
agrees with the store, and each view equals a fresh rebuild."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import lists
from adapters.views import statistics as projections
from dialer_domain.model.agent import AgentSession
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import DomainError
from dialer_domain.model.events import CallEnded, DialAttempted
from dialer_domain.model.identities import agent_session_id_for, campaign_id_for, contact_id_for, seeded_ids
from dialer_domain.model.values import CallOutcome, CampaignStatus, ContactData, ContactState, ImportMode
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.handlers import set_campaign_status
from dialer_domain.service_layer.live_queue import LiveQueue
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from tests.conftest import _psycopg_url
from tests.integration.test_lists import HEADER, NOW, open_sales_store
from tests.integration.test_projections import memory_rows, rounded
from tests.integration.test_queue_view import fingerprint, view_entries
from tests.unit.test_engine import ManualClock, RecordingDesktop, RecordingTelephony

CAMPAIGN = campaign_id_for("Sales")
KEYS = [str(i) for i in range(12)]

action = st.one_of(
    st.tuples(st.just("tick"), st.integers(1, 40)),
    st.tuples(st.just("answer"), st.integers(0, 5)),
    st.tuples(st.just("end"), st.integers(0, 5), st.sampled_from([CallOutcome.COMPLETED, CallOutcome.NO_ANSWER, CallOutcome.BUSY])),
    st.tuples(st.just("edit"), st.sampled_from(KEYS)),
    st.tuples(st.just("withdraw"), st.sampled_from(KEYS)),
    st.tuples(st.just("import"), st.integers(0, 11), st.integers(1, 6)),
    st.tuples(st.just("follow")),
    st.tuples(st.just("dispose"), st.sampled_from(["a1", "a2"])),
)


def write_list(path: Path, keys: list[str], tag: str) -> Path:
    lines = [HEADER] + [f"{k};N{k} {tag};2012{int(k):04d};;5;x" for k in keys]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fresh_url(kind: str, pg_server_url: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/{uuid.uuid4().hex}.db"
    schema = f"dialer_prop_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_psycopg_url(pg_server_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_server_url else "?"
    return f"{pg_server_url}{sep}schema={schema}"


def run(url: str, actions: list[tuple], tmp: Path) -> None:
    store = open_sales_store(url)
    try:
        repo = Repository(store)
        lists.import_file(store, CAMPAIGN, write_list(tmp / "first.csv", KEYS, "a"), mode=ImportMode.APPEND, at=NOW, ids=uuid.uuid4)
        set_campaign_status(repo, CAMPAIGN, CampaignStatus.ENABLED, by="test", at=NOW)
        clock = ManualClock()
        clock.t = NOW
        tel = RecordingTelephony()
        engine = Dialler(store, tel, clock, seeded_ids(3), desktop=RecordingDesktop(), queue=bootstrap.queue(store, url))
        engine.sync()
        for a in ("a1", "a2"):
            engine.log_in(a, skills=("sales",))
            engine.ready(a)
        stats = projections.open_view(url)
        queue_view = projections.open_view(url, "queue")
        for n, act in enumerate(actions):
            match act:
                case ("tick", seconds):
                    clock.advance(seconds)
                    engine.tick()
                case ("answer", i):
                    calls = sorted(c for c, call in engine.calls.items() if call.answered_at is None)
                    if calls:
                        engine.on_call_progress(calls[i % len(calls)], CallOutcome.ANSWERED_HUMAN)
                case ("end", i, outcome):
                    calls = sorted(engine.calls)
                    if calls:
                        call = engine.calls[calls[i % len(calls)]]
                        engine.on_call_ended(call.call_id, CallOutcome.COMPLETED if call.connected else outcome)
                case ("edit", key):
                    c = repo.get(ContactAttempt, contact_id_for(CAMPAIGN, key))
                    try:
                        c.update(numbers=c.numbers, data=ContactData(name=f"edit {n}"), priority=c.priority, source="api", at=clock.t)
                        repo.save(c)
                    except DomainError:
                        pass  # withdrawn: the API's 409
                case ("withdraw", key):
                    c = repo.get(ContactAttempt, contact_id_for(CAMPAIGN, key))
                    try:
                        c.withdraw("api", clock.t)
                        repo.save(c)
                    except DomainError:
                        pass  # in a call, or already withdrawn: the API's 409
                case ("import", first, count):
                    keys = KEYS[first : first + count]
                    path = write_list(tmp / f"i{n}.csv", keys, str(n))
                    lists.import_file(store, CAMPAIGN, path, mode=ImportMode.APPEND, at=clock.t, ids=uuid.uuid4)
                case ("follow",):
                    projections.catch_up(store, stats)
                    projections.catch_up(store, queue_view)
                case ("dispose", agent):
                    with contextlib.suppress(DomainError):  # no call to dispose, or still talking
                        engine.dispose(agent, "sale")
        # the campaign stops; the network reports the end of every call still in flight
        set_campaign_status(repo, CAMPAIGN, CampaignStatus.DISABLED, by="test", at=clock.t)
        engine.sync()
        for call_id in sorted(engine.calls):
            engine.on_call_ended(call_id, CallOutcome.COMPLETED)
        assert not engine.calls
        check(store, engine, url, stats, queue_view)
        stats.factory.close()
        queue_view.factory.close()
    finally:
        store.close()


def check(store, engine, url, stats, queue_view) -> None:
    log = [r.event for r in store.read(0, 10**8)]
    versions: dict[uuid.UUID, list[int]] = defaultdict(list)
    for e in log:
        versions[e.originator_id].append(e.originator_version)
    assert all(vs == list(range(1, len(vs) + 1)) for vs in versions.values())
    dialled = {e.call_id for e in log if isinstance(e, DialAttempted)}
    ended = {e.call_id for e in log if isinstance(e, CallEnded)}
    assert dialled == ended, f"calls without an end: {dialled - ended}"
    repo = Repository(store)
    for key in KEYS:
        state = repo.get(ContactAttempt, contact_id_for(CAMPAIGN, key)).state
        assert state not in (ContactState.DIALLING, ContactState.CONNECTED, ContactState.OFFERED), (key, state)
    restarted = Dialler(store, RecordingTelephony(), ManualClock(), seeded_ids(9))
    restarted.sync()
    for agent in ("a1", "a2"):
        stored = repo.get(AgentSession, agent_session_id_for(agent, NOW.date().isoformat()))
        assert restarted.agents[agent].version == stored.version == engine.agents[agent].version
    projections.catch_up(store, stats)
    assert rounded(stats.counters()) == memory_rows(store)
    projections.catch_up(store, queue_view)
    live = LiveQueue()
    live.observe(store.read(0, 10**8))
    assert view_entries(queue_view) == {cid: fingerprint(e) for cid, e in live.entries.items()}
    projections.rebuild(store, stats)
    assert rounded(stats.counters()) == memory_rows(store)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(action, min_size=5, max_size=40))
def test_random_interleavings_keep_every_stream_call_contact_and_view_whole(kind, pg_server_url, actions):
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_url(kind, pg_server_url, Path(tmp))
        run(url, actions, Path(tmp))
