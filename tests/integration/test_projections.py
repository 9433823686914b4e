"""The persisted statistics view on SQLite and PostgreSQL: live equals rebuilt equals the plain fold,
rebuild never shows half-built figures, a crash mid-batch counts nothing twice, and R19's midnight."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.persistence.eventstore import open_event_store
from adapters.views import statistics as projections
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.events import ContactImported, ContactQueued, DialAttempted
from dialer_domain.model.values import DialMode
from dialer_domain.rules.schedule import zone
from dialer_domain.rules.statistics import StatisticsFold
from entrypoints.simulate import SimulationConfig, run_simulation
from tests.conftest import wait_until


def rounded(rows):
    return sorted((k, a, b, c, m, round(v, 6)) for k, a, b, c, m, v in rows)


def memory_rows(store):
    fold = StatisticsFold()
    fold.apply_all(store.read(0, 10**8))
    return rounded(projections.fold_counter_rows(fold))


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/stats.db"
    return request.getfixturevalue("pg_url")


def simulate(store, **kw):
    cfg = dict(mode=DialMode.PREDICTIVE, agents=4, contacts=300, hours=1.0, seed=5)
    cfg.update(kw)
    return run_simulation(store, SimulationConfig(**cfg))


def test_live_figures_equal_rebuilt_ones_and_the_plain_fold(url):
    store = open_event_store(url)
    view = projections.open_view(url)
    try:
        simulate(store)
        projections.catch_up(store, view, batch_size=13)  # the live view, a few events at a time
        live = rounded(view.counters())
        assert live == memory_rows(store)
        gen, done = projections.rebuild(store, view)
        assert gen == 2 and done == len(store.read(0, 10**8, topics=projections.STATISTICS_TOPICS))
        assert rounded(view.counters()) == live
    finally:
        store.close()


def test_a_rebuild_does_not_show_half_built_figures_and_catches_up_with_new_events(url):
    store = open_event_store(url)
    view = projections.open_view(url)
    try:
        simulate(store)
        projections.catch_up(store, view)
        before = rounded(view.counters())
        gen = view.new_generation()
        projections.catch_up(store, view, gen, batch_size=500, stop_after=500)  # a rebuild half-way
        assert rounded(view.counters()) == before  # readers still see the whole live generation
        simulate(store, seed=6, campaign_name="Second day")  # the engine keeps writing meanwhile
        projections.catch_up(store, view, gen)
        view.switch_to(gen)
        assert view.live_generation() == gen
        assert rounded(view.counters()) == memory_rows(store)
        assert rounded(view.counters(gen=1)) == []  # the old generation's rows are gone
    finally:
        store.close()


def test_a_rebuild_collects_garbage_less_often_while_it_folds_and_puts_the_collector_back(url, monkeypatch):
    import gc

    from adapters.views import base

    store = open_event_store(url)
    view = projections.open_view(url)
    seen: list[tuple[int, int, int]] = []
    fold = base.catch_up

    def watching(*args, **kw):
        seen.append(gc.get_threshold())
        return fold(*args, **kw)

    monkeypatch.setattr(base, "catch_up", watching)
    before = gc.get_threshold()
    try:
        simulate(store, hours=0.2)
        projections.rebuild(store, view)
        assert seen and all(t[0] >= 50_000 and t[1:] == before[1:] for t in seen)
        assert gc.get_threshold() == before
        with base.fewer_collections(), base.fewer_collections():  # nested or concurrent: the last one out restores
            pass
        assert gc.get_threshold() == before
        with pytest.raises(RuntimeError), base.fewer_collections():
            raise RuntimeError("a fold failed")
        assert gc.get_threshold() == before
        assert rounded(view.counters()) == memory_rows(store)
    finally:
        store.close()


def caught_up(store, view, topics):
    last = store.read(max(0, store.max_position() - 5000), 5000, topics)
    return bool(last) and view.gen_position(view.live_generation()) >= last[-1].position


def test_a_follower_counts_every_event_once_through_catch_ups_and_a_rebuild_under_it(url):
    """`dialer stats follow` after a catch-up, with a rebuild switching generations while it runs,
    and events arriving all the while: the view equals a fresh fold, figure for figure."""
    import threading

    store = open_event_store(url)
    view = projections.open_view(url)
    stop = threading.Event()
    try:
        simulate(store, hours=0.25)
        projections.catch_up(store, view, batch_size=50)  # advanced by a catch-up first
        follower = threading.Thread(target=projections.follow, args=(open_event_store(url), projections.open_view(url)), kwargs={"stop": stop})
        follower.start()
        simulate(store, hours=0.25, seed=6)
        projections.rebuild(store, view)  # a new generation, switched under the running follower
        simulate(store, hours=0.25, seed=7)
        wait_until(lambda: caught_up(store, view, projections.STATISTICS_TOPICS), what="the follower")
        stop.set()
        follower.join(60)
        assert not follower.is_alive()
        assert rounded(view.counters()) == memory_rows(store)
        projections.catch_up(store, view)  # and a catch-up after the follower adds nothing
        assert rounded(view.counters()) == memory_rows(store)
    finally:
        stop.set()
        store.close()


def test_a_failure_inside_a_batch_counts_nothing_twice(url, monkeypatch):
    store = open_event_store(url)
    view = projections.open_view(url)
    try:
        simulate(store)
        calls = {"n": 0}

        def flaky(real):
            def moving(*args):
                moved = real(*args)
                if moved is not False:  # this statement moved the position (a one-statement move may not have: ADR 0039)
                    calls["n"] += 1
                    if calls["n"] == 3:  # the third batch's transaction fails after it: neither its rows nor its tracking are kept
                        raise RuntimeError("power cut")
                return moved

            return moving

        reals = {name: getattr(view, name) for name in ("_insert_tracking", "_moved_in_one_statement")}
        for name, real in reals.items():
            monkeypatch.setattr(view, name, flaky(real))
        with pytest.raises(RuntimeError, match="power cut"):
            projections.catch_up(store, view, batch_size=400)
        for name, real in reals.items():
            monkeypatch.setattr(view, name, real)
        relevant = store.read(0, 10**8, topics=projections.STATISTICS_TOPICS)
        assert view.gen_position(1) == relevant[799].position  # two batches of 400 committed, the third not
        projections.catch_up(store, view, batch_size=400)  # resumes after the last committed batch
        assert rounded(view.counters()) == memory_rows(store)
    finally:
        store.close()


def test_a_runner_killed_mid_batch_resumes_without_double_counting(tmp_path):
    url = f"sqlite:///{tmp_path}/kill.db"
    store = open_event_store(url)
    simulate(store, agents=6, hours=2.0, contacts=800)
    expected = memory_rows(store)
    store.close()
    code = (
        "from adapters.persistence.eventstore import open_event_store; from adapters.views import statistics as p; "
        f"s = open_event_store({url!r}); v = p.open_view({url!r}); p.catch_up(s, v, batch_size=25)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    watcher = projections.open_view(url)
    wait_until(lambda: watcher.gen_position(watcher.live_generation()) > 0 or proc.poll() is not None, what="the first pages")
    assert proc.poll() is None, "the catch-up finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = open_event_store(url)
    view = projections.open_view(url)
    try:
        killed_at = view.gen_position(view.live_generation())
        projections.catch_up(store, view)
        assert rounded(view.counters()) == expected
        assert killed_at <= store.max_position()
    finally:
        store.close()


def test_r19_a_contact_queued_before_midnight_and_called_after_counts_on_the_new_day(pg_url):
    """Live figures (followed in small batches while the day runs) and regenerated ones agree."""
    store = open_event_store(pg_url)
    view = projections.open_view(pg_url)
    try:
        # made-up numbers dialled at night: no calling-hours rule (us_tcpa would hold every call until 08:00)
        result = simulate(store, opens_at="23:30", hours=1.0, agents=5, contacts=600, seed=9, campaign_name="Night shift", calling_policy="none")
        projections.catch_up(store, view, batch_size=11)
        live = rounded(view.counters())
        events = [r.event for r in store.read(0, 10**8)]
        tz = zone("Europe/Copenhagen")

        def day_of(e):
            return e.timestamp.astimezone(tz).date().isoformat()

        first_day, second_day = date(2026, 11, 23).isoformat(), date(2026, 11, 24).isoformat()
        queued_before = {e.originator_id: e.timestamp for e in events if isinstance(e, ContactQueued) and day_of(e) == first_day}
        crossing = [
            e
            for e in events
            if isinstance(e, DialAttempted)
            and e.originator_id in queued_before
            and day_of(e) == second_day
            and queued_before[e.originator_id] < e.timestamp
        ]
        assert crossing, "some contacts queued before midnight must be dialled after it"
        dials_by_day = {d: sum(1 for e in events if isinstance(e, DialAttempted) and day_of(e) == d) for d in (first_day, second_day)}
        cid = str(result.campaign_id)
        shown = {
            d: sum(v for k, a, b, _, m, v in live if k == "campaign_hour" and a == cid and b == d and m == "dials") for d in (first_day, second_day)
        }
        assert shown == dials_by_day and shown[second_day] > 0
        projections.rebuild(store, view)
        assert rounded(view.counters()) == live
    finally:
        store.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(list(DialMode)),
    agents=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    minutes=st.integers(10, 60),
    batch=st.integers(1, 400),
)
def test_property_for_random_histories_rebuilt_equals_live_and_replay_is_deterministic(tmp_path_factory, mode, agents, seed, minutes, batch):
    url = f"sqlite:///{tmp_path_factory.mktemp('p')}/h.db"
    store = open_event_store(url)
    view = projections.open_view(url)
    try:
        simulate(store, mode=mode, agents=agents, seed=seed, hours=minutes / 60, contacts=agents * minutes * 2 + 20)
        projections.catch_up(store, view, batch_size=batch)
        live = rounded(view.counters())
        projections.rebuild(store, view, batch_size=997)
        assert rounded(view.counters()) == live == memory_rows(store)
        # replaying the same events twice gives the same state
        some = [r.event.originator_id for r in store.read(0, 10**6) if isinstance(r.event, ContactImported)][:20]
        for cid in some:
            events = store.load(cid)
            assert ContactAttempt.replay(cid, events) == ContactAttempt.replay(cid, events)
        assert memory_rows(store) == memory_rows(store)
    finally:
        store.close()


def test_callbacks_are_counted_kept_on_time_late_or_missed(url):
    """R12: a callback dialled within five minutes of its time is kept; one dialled later is late;
    one whose five minutes passed with no dial is missed (until it is dialled: then late). The
    persisted view, one event per page, gives the same figures as the plain fold."""
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    from dialer_domain.model.events import CallbackScheduled, CampaignCreated
    from dialer_domain.model.values import CampaignSettings, ContactData, PhoneNumber

    t0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    camp = uuid4()
    events = [
        CampaignCreated(
            originator_id=camp,
            originator_version=1,
            timestamp=t0,
            name="Callbacks",
            description="",
            manager="m",
            priority=5,
            dial_mode=DialMode.PROGRESSIVE,
            settings=CampaignSettings(skill="s"),
            hours=None,
        )
    ]
    on_time, late, missed, missed_then_dialled = (uuid4() for _ in range(4))
    due = t0 + timedelta(hours=1)

    def imported(c):
        return ContactImported(
            originator_id=c,
            originator_version=1,
            timestamp=t0,
            campaign_id=camp,
            key=str(c),
            numbers=(PhoneNumber("+4520000000"),),
            data=ContactData(),
            priority=5,
            assigned_agent=None,
            source="test",
        )

    def scheduled(c):
        return CallbackScheduled(originator_id=c, originator_version=2, timestamp=t0, callback_at=due, agent_id=None, scheduled_by="agent a1")

    def dialled(c, at):
        return DialAttempted(
            originator_id=c,
            originator_version=3,
            timestamp=at,
            campaign_id=camp,
            call_id=uuid4(),
            number="+4520000000",
            number_index=0,
            attempt_no=1,
            dial_mode=DialMode.PROGRESSIVE,
            agent_id=None,
            decision_id=None,
            checks=(),
            caller_id_number="",
            caller_id_name="",
            max_ring_seconds=30,
        )

    for c in (on_time, late, missed, missed_then_dialled):
        events += [imported(c), scheduled(c)]
    events += [
        dialled(on_time, due + timedelta(minutes=4)),
        dialled(late, due + timedelta(minutes=6)),  # the first event past the window: the other two are now missed
        ContactQueued(originator_id=uuid4(), originator_version=1, timestamp=due + timedelta(hours=2), campaign_id=camp),  # time passes
        dialled(missed_then_dialled, due + timedelta(hours=3)),
    ]
    store = open_event_store(url)
    view = projections.open_view(url)
    try:
        for e in events:
            store.append([e])
        projections.catch_up(store, view, batch_size=1)
        fold = StatisticsFold()
        fold.apply_all(store.read(0, 10**8))
        [fig] = [f for (c, _d, _h), f in fold.by_campaign_hour.items() if c == camp and f.callbacks_set]
        totals = {
            k: sum(getattr(f, k) for (c, _d, _h), f in fold.by_campaign_hour.items() if c == camp)
            for k in ("callbacks_set", "callbacks_kept", "callbacks_late", "callbacks_missed")
        }
        assert fig.callbacks_set == 4
        assert totals == {"callbacks_set": 4, "callbacks_kept": 1, "callbacks_late": 2, "callbacks_missed": 1}
        assert rounded(view.counters()) == memory_rows(store)
        projections.rebuild(store, view, batch_size=2)
        assert rounded(view.counters()) == memory_rows(store)
    finally:
        store.close()


def test_the_statistics_fold_reads_only_what_it_declares():
    """The fold over events decoded with only ``StatisticsFold.READS`` (ADR 0037) has exactly the
    state and figures of the fold over whole events, across modes, callbacks and pauses; a field it
    read and had not declared would raise ``AttributeError`` here."""
    from adapters.persistence.eventstore import CattrsMapper
    from adapters.telephony.simulated import WorldParams
    from tests.fakes import InMemoryEventStore

    mapper = CattrsMapper()
    partial = mapper.decoder(StatisticsFold.READS)
    seen: set[str] = set()
    for mode, seed in ((DialMode.PREDICTIVE, 3), (DialMode.PREVIEW, 4), (DialMode.POWER, 5)):
        store = InMemoryEventStore()
        run_simulation(store, SimulationConfig(mode=mode, agents=4, contacts=120, hours=1.0, seed=seed, world=WorldParams(p_callback=0.3)))
        whole, sparse = StatisticsFold(), StatisticsFold()
        for r in store.read(0, 10**8, topics=projections.STATISTICS_TOPICS):
            s = mapper.to_stored_event(r.event)
            event = partial(s.topic, s.state, s.originator_id, s.originator_version)
            assert type(event) is type(r.event)
            if type(event) in StatisticsFold.READS:
                seen.add(event.NAME)
            whole.apply(r.event)
            sparse.apply(event)
        assert projections.fold_counter_rows(sparse) == projections.fold_counter_rows(whole)
        assert (sparse.contact_campaign, sparse.callback_pending, sparse.agents) == (whole.contact_campaign, whole.callback_pending, whole.agents)
        assert (sparse.campaign_names, sparse.campaign_tz, sparse.campaign_window) == (whole.campaign_names, whole.campaign_tz, whole.campaign_window)
    assert seen == {cls.NAME for cls in StatisticsFold.READS}, "every declared class was folded partially"


_EVERY_EVENTS = ("originator_id", "originator_version", "timestamp")  # what every event is decoded with


def test_a_simulated_days_report_is_the_same_from_events_decoded_only_as_its_folds_declare():
    """``day_report`` reads a day back decoded only as the statistics and compliance folds declare
    together (``simulate.DAY_READS``, ADR 0037): its figures and compliance report are those of
    whole events, across modes, callbacks and abandons, and those ``run_simulation`` folded as the
    day ran (ADR 0044); a field a fold read and had not declared would raise ``AttributeError``
    here."""
    from datetime import datetime

    import attrs

    from adapters.lists.calendar import PhoneCalendar
    from adapters.telephony.simulated import WorldParams
    from dialer_domain.model.events import ALL_EVENTS
    from dialer_domain.rules.compliance import ComplianceFold
    from dialer_domain.rules.reads import reads_together
    from dialer_domain.service_layer.repository import iter_log
    from entrypoints.simulate import DAY_READS, day_report

    partly: set[str] = set()
    for mode, seed, p_human in ((DialMode.PREDICTIVE, 3, 0.25), (DialMode.PREVIEW, 4, 0.25), (DialMode.POWER, 5, 0.6)):
        store = open_event_store("memory:")
        world = WorldParams(p_callback=0.3, p_human=p_human)  # the power day dials 3 a ready agent, and abandons
        cfg = SimulationConfig(mode=mode, agents=4, contacts=120, hours=1.0, seed=seed, world=world, power_ratio_ready=3.0)
        r = run_simulation(store, cfg)
        window, period = (r.started, r.ended), (r.started, datetime.fromisoformat(r.summary["compliance"]["period"]["to"]))
        whole = day_report(store, 0, r.campaign_id, None, window, period, reads=None)
        sparse = day_report(store, 0, r.campaign_id, None, window, period)
        assert sparse == whole == (r.summary, r.events)
        assert r.summary["dials"] == r.summary["compliance"]["dials"] > 0
        # and each fold alone, over the events decoded as it alone declares
        for fold_class in (StatisticsFold, ComplianceFold):
            alone = fold_class() if fold_class is ComplianceFold else fold_class(window=window)
            for rec in iter_log(store, reads=reads_together(ALL_EVENTS, (fold_class.EVENTS, fold_class.READS))):
                alone.apply(rec.event)
            if isinstance(alone, ComplianceFold):
                assert alone.report(r.campaign_id, *period, PhoneCalendar().holiday) == whole[0]["compliance"]
            else:
                alone.close(window[1])
                assert {**alone.summary(r.campaign_id), "compliance": whole[0]["compliance"]} == whole[0]
        for rec in iter_log(store, reads=DAY_READS):
            cls = type(rec.event)
            unread = [f.name for f in attrs.fields(cls) if f.name not in (*DAY_READS.get(cls, ()), *_EVERY_EVENTS)]
            if cls in DAY_READS and unread:
                with pytest.raises(AttributeError):
                    getattr(rec.event, unread[0])
                partly.add(cls.NAME)
            elif unread:
                getattr(rec.event, unread[0])  # read whole
    assert {"ContactImported", "CallProgressed", "CallEnded", "ContactQueued", "PacingDecided", "DispositionRecorded"} <= partly
