"""The dialler driven step by step with a manual clock, the in-memory store and a recording
telephony fake (it implements the same Telephony port as the simulated and real adapters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from adapters.telephony.fake import FakeTelephony
from dialer_domain.model.events import CallAbandoned, CallEnded, ContactQueued, DialAttempted, PacingDecided
from dialer_domain.model.identities import campaign_id_for, contact_id_for, seeded_ids
from dialer_domain.model.values import AgentState, CallOutcome, CampaignSettings, CampaignStatus, ContactData, ContactState, DialMode, PhoneNumber
from dialer_domain.service_layer.engine import Dialler
from dialer_domain.service_layer.handlers import CampaignSpec, add_contacts, create_campaign, set_campaign_status
from dialer_domain.service_layer.ports import ScreenPop
from dialer_domain.service_layer.repository import Repository
from tests.fakes import InMemoryEventStore

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


class ManualClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class RecordingTelephony(FakeTelephony):
    """The fake telephony adapter; the unit tests drive the engine's call steps themselves."""


class RecordingDesktop:
    def __init__(self) -> None:
        self.offers: list[tuple[str, UUID, ScreenPop]] = []
        self.pops: list[tuple[str, ScreenPop]] = []

    def offered(self, agent_id, offer_id, pop, expires_at, auto_answer) -> None:
        self.offers.append((agent_id, offer_id, pop))

    def connected(self, agent_id, call_id, pop) -> None:
        self.pops.append((agent_id, pop))

    def wrapup_started(self, agent_id, call_id, until) -> None:
        pass


def setup(
    mode: DialMode,
    contacts: int = 5,
    name: str = "Sales",
    priority: int = 5,
    skill: str = "sales",
    assigned: str | None = None,
    **settings,
):
    store = InMemoryEventStore()
    clock = ManualClock()
    tel = RecordingTelephony()
    desk = RecordingDesktop()
    engine = Dialler(store, tel, clock, seeded_ids(7), desktop=desk)
    add_campaign(engine, mode, contacts, name, priority, skill, assigned, **settings)
    return engine, clock, tel, desk, store


def add_campaign(engine, mode, contacts, name, priority=5, skill="sales", assigned=None, **settings):
    repo = Repository(engine.store)
    create_campaign(
        repo,
        CampaignSpec(name=name, manager="m", priority=priority, dial_mode=mode),
        settings=CampaignSettings(skill=skill, wrapup_seconds=10, min_redial_seconds=600, **{"caller_id_number": "+4570000000", **settings}),
        hours=None,
        at=T0,
    )
    cid = campaign_id_for(name)
    rows = [(f"{name}-{i}", (PhoneNumber(f"+45200000{i:02d}"),), ContactData(name=f"C{i}"), 5, assigned) for i in range(contacts)]
    add_contacts(repo, cid, rows, source="test", at=T0)
    set_campaign_status(repo, cid, CampaignStatus.ENABLED, by="test", at=T0)
    engine.sync()
    return cid


def login(engine, *agents, skills=("sales",)):
    for a in agents:
        engine.log_in(a, skills=skills)
        engine.ready(a)


def events_of(store, cls):
    return [r.event for r in store.read(0, 100000) if isinstance(r.event, cls)]


def test_progressive_dials_one_call_per_ready_agent_and_connects_the_answer():
    engine, clock, tel, desk, store = setup(DialMode.PROGRESSIVE)
    login(engine, "a1", "a2")
    engine.tick()
    assert len(tel.placed) == 2
    decision = events_of(store, PacingDecided)[-1]
    assert decision.ready_agents == 2 and decision.calls_to_place == 2
    dial = events_of(store, DialAttempted)[0]
    assert dial.decision_id == decision.decision_id and "campaign_open" in dial.checks
    clock.advance(9)
    engine.on_call_progress(tel.placed[0], CallOutcome.ANSWERED_HUMAN)
    assert tel.connected and engine.agents[tel.connected[0][1]].state is AgentState.TALKING
    assert desk.pops and desk.pops[0][1].data.name.startswith("C")  # screen pop (R9)
    engine.tick()
    assert len(tel.placed) == 2  # one agent talking, one ready with a call in flight


def test_a_human_answer_with_no_free_agent_within_two_seconds_is_abandoned_r17():
    engine, clock, tel, _, store = setup(DialMode.POWER, power_ratio_ready=3.0, abandon_cap=None)  # a new campaign is capped (below)
    login(engine, "a1")
    engine.tick()
    assert len(tel.placed) == 3
    clock.advance(8)
    engine.on_call_progress(tel.placed[0], CallOutcome.ANSWERED_HUMAN)
    engine.on_call_progress(tel.placed[1], CallOutcome.ANSWERED_HUMAN)
    clock.advance(1.5)
    engine.tick()
    assert not events_of(store, CallAbandoned)
    clock.advance(0.6)
    engine.tick()
    [abandoned] = events_of(store, CallAbandoned)
    assert abandoned.wait_seconds == pytest.approx(2.1)
    assert (tel.placed[1], "abandoned: no agent free") in tel.hung_up


def test_a_waiting_answer_is_connected_when_an_agent_frees_within_two_seconds():
    engine, clock, tel, _, store = setup(DialMode.POWER, power_ratio_ready=2.0, abandon_cap=None)
    login(engine, "a1")
    engine.tick()
    clock.advance(5)
    engine.on_call_progress(tel.placed[0], CallOutcome.ANSWERED_HUMAN)
    clock.advance(10)
    engine.on_call_ended(tel.placed[0], CallOutcome.COMPLETED)
    engine.dispose("a1", "sale")
    engine.on_call_progress(tel.placed[1], CallOutcome.ANSWERED_HUMAN)  # a1 in wrap-up
    clock.advance(1)
    engine.ready("a1")
    assert engine.agents["a1"].state is AgentState.TALKING
    assert not events_of(store, CallAbandoned)


def test_machine_answers_are_hung_up_and_retried_later():
    engine, clock, tel, _, store = setup(DialMode.PROGRESSIVE)
    login(engine, "a1")
    engine.tick()
    clock.advance(15)
    engine.on_call_progress(tel.placed[0], CallOutcome.ANSWERED_MACHINE)
    ended = events_of(store, CallEnded)[-1]
    assert ended.outcome is CallOutcome.ANSWERED_MACHINE and ended.counts_as_attempt
    assert ended.next_dial_at == clock.t + timedelta(seconds=600)


def test_preview_offers_the_agent_first_and_dials_on_accept():
    engine, clock, tel, desk, store = setup(DialMode.PREVIEW)
    login(engine, "a1")
    engine.tick()
    assert tel.placed == [] and len(desk.offers) == 1
    agent, offer, _pop = desk.offers[0]
    clock.advance(10)
    call = engine.accept_offer(agent, offer)
    assert tel.placed == [call]
    assert events_of(store, DialAttempted)[0].agent_id == "a1"
    clock.advance(9)
    engine.on_call_progress(call, CallOutcome.ANSWERED_HUMAN)
    assert engine.agents["a1"].state is AgentState.TALKING


def test_an_offer_not_answered_goes_to_the_next_ready_agent():
    engine, clock, _tel, desk, _store = setup(DialMode.PREVIEW, contacts=1, preview_timeout_seconds=15)
    login(engine, "a1")
    engine.tick()
    _first_agent, _, pop = desk.offers[0]
    login(engine, "a2")
    clock.advance(16)
    engine.tick()
    assert engine.agents["a1"].state is AgentState.PAUSED
    assert desk.offers[-1][0] == "a2" and desk.offers[-1][2].contact_id == pop.contact_id


def test_an_agent_leg_hang_up_before_the_ring_time_is_not_an_attempt_r6():
    engine, clock, tel, desk, store = setup(DialMode.PREVIEW, contacts=1)
    login(engine, "a1")
    engine.tick()
    call = engine.accept_offer("a1", desk.offers[0][1])
    clock.advance(5)
    engine.agent_hung_up("a1")
    ended = events_of(store, CallEnded)[-1]
    assert ended.outcome is CallOutcome.CANCELLED and not ended.counts_as_attempt
    assert engine.agents["a1"].state is AgentState.READY
    assert (call, "agent leg hung up") in tel.hung_up


def test_an_agent_pausing_while_their_call_rings_is_handled_r17():
    engine, clock, _tel, desk, store = setup(DialMode.PREVIEW, contacts=1)
    login(engine, "a1")
    engine.tick()
    engine.accept_offer("a1", desk.offers[0][1])
    clock.advance(3)
    engine.pause("a1", "break")
    ended = events_of(store, CallEnded)[-1]
    assert ended.outcome is CallOutcome.CANCELLED and not ended.counts_as_attempt
    contact = engine.contact(contact_id_for(campaign_id_for("Sales"), "Sales-0"))
    assert contact.state is ContactState.PENDING and contact.attempts == 0


def test_progressive_cancels_the_extra_call_when_a_ready_agent_pauses():
    engine, _clock, tel, _, store = setup(DialMode.PROGRESSIVE)
    login(engine, "a1", "a2")
    engine.tick()
    assert len(tel.placed) == 2
    engine.pause("a2", "break")
    assert len(tel.hung_up) == 1
    assert events_of(store, CallEnded)[-1].outcome is CallOutcome.CANCELLED


def test_auto_mode_dials_only_the_agents_own_contacts():
    engine, _clock, _tel, desk, _store = setup(DialMode.AUTO, contacts=2, assigned="a1")
    login(engine, "a1", "a2")
    engine.tick()
    assert [o[0] for o in desk.offers] == ["a1"]


def test_the_higher_priority_campaign_places_its_calls_first_r1():
    engine, _clock, _tel, _, store = setup(DialMode.PROGRESSIVE, name="Low", priority=2)
    add_campaign(engine, DialMode.PROGRESSIVE, 3, "High", priority=9)
    login(engine, "a1")
    engine.tick()
    [dial] = events_of(store, DialAttempted)
    assert dial.campaign_id == campaign_id_for("High")


def test_a_disabled_campaign_places_nothing_and_its_queue_is_taken_back():
    engine, clock, tel, _, store = setup(DialMode.PROGRESSIVE)
    login(engine, "a1")
    engine.tick()
    cid = campaign_id_for("Sales")
    assert engine.queue.queued_count(cid) > 0
    set_campaign_status(Repository(store), cid, CampaignStatus.DISABLED, by="test", at=clock.t)
    engine.sync()
    clock.advance(61)
    engine.tick()
    assert engine.queue.queued_count(cid) == 0
    placed = len(tel.placed)
    engine.on_call_ended(tel.placed[0], CallOutcome.NO_ANSWER)
    engine.tick()
    assert len(tel.placed) == placed


def test_a_due_callback_is_dialled_first_and_within_five_minutes_r12():
    engine, clock, tel, _, store = setup(DialMode.PROGRESSIVE, contacts=20)
    login(engine, "a1")
    engine.tick()
    first = tel.placed[0]
    clock.advance(9)
    engine.on_call_progress(first, CallOutcome.ANSWERED_HUMAN)
    clock.advance(60)
    engine.on_call_ended(first, CallOutcome.COMPLETED)
    due = clock.t + timedelta(minutes=30)
    engine.dispose("a1", "sale", callback_at=due)
    contact_id = events_of(store, DialAttempted)[0].originator_id
    # keep the agent busy with other calls until the appointment
    while clock.t < due + timedelta(minutes=1):
        clock.advance(30)
        if engine.agents["a1"].state is AgentState.WRAP_UP:
            engine.ready("a1")
        for call in list(engine.calls):
            engine.on_call_ended(call, CallOutcome.NO_ANSWER)
        engine.tick()
    dials = [e for e in events_of(store, DialAttempted) if e.originator_id == contact_id]
    assert len(dials) == 2
    assert due <= dials[1].timestamp <= due + timedelta(minutes=5)
    assert (dials[0].callback, dials[1].callback) == (False, True)  # the dial says it keeps an appointment


def test_every_dial_counts_towards_the_lifetime_limit_whatever_the_callbacks():
    from dialer_domain.model.events import AttemptsExhausted

    engine, clock, tel, _, store = setup(DialMode.PROGRESSIVE, contacts=1, max_dials_per_contact=2, attempts_per_number=5, max_attempts_per_contact=5)
    login(engine, "a1")
    for _ in range(2):
        engine.tick()
        call = tel.placed[-1]
        clock.advance(30)
        engine.on_call_ended(call, CallOutcome.NO_ANSWER)
        clock.advance(601)  # past the redial delay
    contact_id = events_of(store, DialAttempted)[0].originator_id
    engine.schedule_callback(contact_id, clock.t + timedelta(minutes=5), agent_id=None, by="supervisor")  # a new round of attempts
    clock.advance(3600)
    engine.tick()
    engine.tick()
    assert len(tel.placed) == 2  # the callback's dial would be the third: over the limit of 2
    [done] = events_of(store, AttemptsExhausted)
    assert "dialled 2 times, the campaign's limit per contact" in done.reason


def test_the_engine_rebuilds_its_views_from_the_log():
    engine, clock, _tel, _, store = setup(DialMode.PROGRESSIVE)
    login(engine, "a1")
    engine.tick()
    again = Dialler(store, RecordingTelephony(), clock, seeded_ids(8))
    again.sync()
    cid = campaign_id_for("Sales")
    assert again.queue.queued_count(cid) == engine.queue.queued_count(cid)
    assert again.agents["a1"] == engine.agents["a1"]
    assert again.campaigns[cid] == engine.campaigns[cid]


def test_a_machine_answer_keeps_the_time_the_network_saw_the_pickup():
    """Detection takes seconds: the dialler records the answer when it learns of it, with the time
    the network's report gives for the pickup beside it (evidence for an auditor)."""
    from dialer_domain.model.events import CallProgressed
    from dialer_domain.service_layer.ports import CallReport, ReportKind

    engine, clock, tel, _, store = setup(DialMode.POWER, contacts=1)
    login(engine, "a1")
    engine.tick()
    [call] = tel.placed
    clock.advance(10)
    pickup = clock.t
    clock.advance(3.5)  # the machine detector's verdict
    engine.on_report(CallReport(ReportKind.ANSWERED_MACHINE, pickup, call_id=call, detail="machine_start"))
    [answer] = [e for e in events_of(store, CallProgressed) if e.call_id == call]
    assert (answer.progress, answer.timestamp, answer.reported_at) == (CallOutcome.ANSWERED_MACHINE, pickup + timedelta(seconds=3.5), pickup)


def test_a_steps_events_are_stored_in_the_order_they_happened():
    """The pacing decision comes before the offers it caused, and an offer's two sides (the
    contact's and the agent's) follow it in the order they were recorded."""
    engine, _clock, _tel, desk, store = setup(DialMode.PREVIEW, contacts=3)
    start = store.max_position()
    login(engine, "a1", "a2")
    engine.tick()
    assert len(desk.offers) == 2
    names = [r.event.NAME for r in store.read(start, 1000)]
    decided = names.index("PacingDecided")
    assert decided < names.index("ContactOffered") and decided < names.index("CallOffered")
    assert names[decided + 1 :].count("ContactOffered") == 2


def test_a_contact_first_dial_names_the_ready_agent_it_was_placed_for():
    """R17's "an agent paused just after the dialler started a call for them" can be attributed:
    each call names the ready agent it was for, longest idle first; calls beyond the ready agents
    (for agents expected to free) name none."""
    engine, clock, _tel, _desk, store = setup(DialMode.PROGRESSIVE)
    login(engine, "a1")
    clock.advance(1)
    login(engine, "a2")
    engine.tick()
    assert [d.placed_for for d in events_of(store, DialAttempted)] == ["a1", "a2"]
    engine, _clock, _tel, _desk, store = setup(DialMode.POWER, power_ratio_ready=3.0, abandon_cap=None)
    login(engine, "a1")
    engine.tick()
    assert [d.placed_for for d in events_of(store, DialAttempted)] == ["a1", None, None]


def power_paced_every(seconds: float):
    """A power campaign of 20 contacts (two calls per ready agent) on an engine paced at most every ``seconds``."""
    from dialer_domain.service_layer.engine import EngineConfig

    store = InMemoryEventStore()
    clock = ManualClock()
    tel = RecordingTelephony()
    engine = Dialler(store, tel, clock, seeded_ids(7), desktop=RecordingDesktop(), config=EngineConfig(pace_every_seconds=seconds))
    add_campaign(engine, DialMode.POWER, 20, "Sales", power_ratio_ready=2.0, abandon_cap=None)
    return engine, clock, tel, store


def test_with_a_pacing_interval_power_pacing_runs_at_most_so_often_and_a_timer_takes_up_what_came_between():
    """EngineConfig.pace_every_seconds (ADR 0026): events within the interval leave the dials to a
    "pace" timer at its end; progressive campaigns are still paced at once."""
    engine, clock, tel, store = power_paced_every(0.5)
    login(engine, "a1")
    clock.advance(1)
    engine.tick()  # paced now: 2 calls for a1
    assert len(tel.placed) == 2
    decisions = len(events_of(store, PacingDecided))
    engine.log_in("a2", skills=("sales",))
    engine.ready("a2")  # within the interval: no pacing now, a timer at its end
    assert len(tel.placed) == 2 and len(events_of(store, PacingDecided)) == decisions
    assert engine.next_due() == T0 + timedelta(seconds=1.5)
    clock.advance(0.5)
    engine.on_call_progress(tel.placed[-1], CallOutcome.RINGING)  # a step at the interval's end runs the timer: one pacing run takes up a2
    assert len(tel.placed) == 4 and len(events_of(store, PacingDecided)) == decisions + 1


def test_a_wake_up_for_a_timer_paces_within_the_interval_and_only_the_periodic_tick_paces_whatever_it():
    """ADR 0030: the simulated world and the live service wake the dialler when a timer comes due (a
    call's ring limit, a wrap-up's end); that wake-up paces as an event does, not as the tick does."""
    engine, clock, tel, _store = power_paced_every(0.5)
    login(engine, "a1")
    clock.advance(1)
    engine.tick()
    assert len(tel.placed) == 2
    login(engine, "a2")  # within the interval: a "pace" timer at its end
    clock.advance(0.2)
    engine.tick(periodic=False)  # a timer's wake-up within the interval: not paced
    assert len(tel.placed) == 2
    engine.tick()  # the periodic tick: paced whatever the interval
    assert len(tel.placed) == 4


def test_a_timer_whose_reason_is_gone_does_not_wake_the_world():
    """ADR 0032: a call's ring limit is taken back when it is answered, its length limit and abandon
    wait when it ends, a wrap-up's end when the agent is ready; the world is woken for none of them."""
    engine, clock, tel, _, _ = setup(DialMode.PROGRESSIVE, contacts=2)
    login(engine, "a1")
    engine.tick()
    [first] = tel.placed
    ring = engine.next_due()
    assert ring is not None and ring > clock.now() + timedelta(seconds=20)
    clock.advance(5)
    engine.on_call_progress(first, CallOutcome.ANSWERED_HUMAN)
    length = engine.next_due()
    assert length is not None and length > ring  # the ring limit is gone: the call's length limit is next
    clock.advance(30)
    engine.on_call_ended(first, CallOutcome.COMPLETED)
    assert engine.agents["a1"].state is AgentState.WRAP_UP
    assert engine.next_due() == clock.now() + timedelta(seconds=10)  # the wrap-up's end only
    engine.dispose("a1", "sale", then_ready=True)
    [_, second] = tel.placed
    assert engine.next_due() == clock.now() + timedelta(seconds=25 + engine.config.ring_backstop_seconds)  # the new call's ring limit only
    clock.advance(3)
    engine.on_call_ended(second, CallOutcome.BUSY)
    assert engine.next_due() is None


def test_by_default_a_small_team_is_paced_after_every_event_and_a_large_one_at_most_twice_a_second():
    from dialer_domain.service_layer.dialler_core import AUTO_PACE_AGENTS, AUTO_PACE_SECONDS

    engine, clock, tel, _, _ = setup(DialMode.POWER, contacts=3 * AUTO_PACE_AGENTS + 20, power_ratio_ready=2.0, abandon_cap=None)
    assert engine.config.pace_every_seconds is None
    login(engine, "a1", "a2")
    assert len(tel.placed) == 4  # each ready paced at once
    login(engine, *(f"b{i}" for i in range(AUTO_PACE_AGENTS - 1)))
    clock.advance(61)
    engine.tick()  # the queue topped up for the large team, and paced
    placed = len(tel.placed)
    assert placed > 4
    login(engine, "late")  # within the interval: paced by its timer, not at once
    assert len(tel.placed) == placed
    assert engine.next_due() == clock.now() + timedelta(seconds=AUTO_PACE_SECONDS)
    clock.advance(AUTO_PACE_SECONDS)
    engine.on_call_progress(tel.placed[-1], CallOutcome.RINGING)  # any step runs the due timers (ringing itself paces nothing)
    assert len(tel.placed) == placed + 2  # the late agent's two calls, by the timer at the interval's end


def test_a_queue_run_loads_the_contacts_it_queues_in_one_round_trip_and_a_restart_loads_the_queued_ones_together():
    engine, clock, tel, desk, store = setup(DialMode.PROGRESSIVE, contacts=8)
    single, together = [], []
    load, load_many = store.load, store.load_many
    store.load = lambda sid, **kw: single.append(sid) or load(sid, **kw)
    store.load_many = lambda ids: together.append(list(ids)) or load_many(ids)
    login(engine, "a1", "a2")
    engine.tick()
    queued = [e.originator_id for e in events_of(store, ContactQueued)]
    assert len(queued) >= 4 and len(tel.placed) == 2
    assert together == [queued] and not set(single) & set(queued), "one load for the queue run, none a contact"
    # a restarted engine finds them queued in the view, not in hand: the pacing run loads its chunk together
    fresh = Dialler(store, tel, clock, seeded_ids(8), desktop=desk)
    fresh.sync()
    together.clear()
    single.clear()
    login(fresh, "a3")
    fresh.tick()
    dialled_after = {e.originator_id for e in events_of(store, DialAttempted)[2:]}
    assert dialled_after and dialled_after <= set(queued)
    assert any(dialled_after <= set(ids) for ids in together) and not set(single) & dialled_after


def test_a_contact_is_kept_for_its_wrap_up_and_forgotten_when_its_agent_moves_on():
    """The contact of a call an agent wraps up stays in the engine's hand for the disposition that
    comes next (no load from the log); once disposed, or when its agent moves on without a
    disposition, it leaves the engine's memory."""
    engine, clock, tel, _, store = setup(DialMode.PROGRESSIVE, contacts=4)
    single: list[UUID] = []
    load = store.load
    store.load = lambda sid, **kw: single.append(sid) or load(sid, **kw)
    login(engine, "a1", "a2")
    engine.tick()
    first, second = tel.placed[:2]
    clock.advance(9)
    engine.on_call_progress(first, CallOutcome.ANSWERED_HUMAN)
    engine.on_call_progress(second, CallOutcome.ANSWERED_HUMAN)
    a1, a2 = (engine.agents[a] for a in ("a1", "a2"))
    c1, c2 = a1.call_contact, a2.call_contact
    clock.advance(60)
    engine.on_call_ended(first, CallOutcome.COMPLETED)
    engine.on_call_ended(second, CallOutcome.COMPLETED)
    assert a1.state is AgentState.WRAP_UP and {c1, c2} <= engine.contacts.keys()  # done with the call, held for its wrap-up
    single.clear()
    engine.dispose("a1", "sale", then_ready=True)
    assert c1 not in single and c1 not in engine.contacts  # disposed without a load, then let go
    assert engine.contacts[c2].state is ContactState.DONE
    engine.ready("a2")  # no disposition: its contact is let go all the same
    assert c2 not in engine.contacts and c2 not in single
    [disposed] = [r.event for r in store.read(0, 10**6) if r.event.originator_id == c1 and type(r.event).__name__ == "DispositionRecorded"]
    assert disposed.code == "sale"
