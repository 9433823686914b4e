"""A short simulated day through the real engine on SQLite and on PostgreSQL, then invariants
checked over nothing but the stored events."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from adapters.persistence.eventstore import open_event_store
from adapters.telephony.simulated import WorldParams
from dialer_domain.model.events import (
    CallAbandoned,
    CallbackScheduled,
    CallConnected,
    CallEnded,
    CallProgressed,
    CampaignStatusChanged,
    ContactImported,
    DialAttempted,
)
from dialer_domain.model.values import CallOutcome, CampaignStatus, DialMode
from entrypoints import bootstrap
from entrypoints.simulate import SimulationConfig, day_report, run_simulation

CFG = dict(agents=5, contacts=250, hours=1.5, seed=3, min_redial_seconds=600, attempts_per_number=2)
WORLD = WorldParams(p_callback=0.3, p_sale=0.2)


def run(url: str, mode: DialMode):
    store = open_event_store(url)
    try:
        result = run_simulation(store, SimulationConfig(mode=mode, world=WORLD, **CFG), queue=bootstrap.queue(store, url))
        events = [r.event for r in store.read(0, 10**7)]
        # the report folded as the day ran (ADR 0044) is the one rebuilt from the log, though the
        # engine's first reads on a persisted queue view skip the contacts' events
        period = (result.started, datetime.fromisoformat(result.summary["compliance"]["period"]["to"]))
        assert day_report(store, 0, result.campaign_id, None, (result.started, result.ended), period) == (result.summary, result.events)
    finally:
        store.close()
    return result, events


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/day.db"
    return request.getfixturevalue("pg_url")


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PREVIEW])
def test_a_simulated_day_keeps_every_rule(url, mode):
    result, events = run(url, mode)
    dials = [e for e in events if isinstance(e, DialAttempted)]
    assert len(dials) > 200, "the day should have placed a fair number of calls"
    assert result.summary["dials"] > 0 and result.summary["connects"] > 0
    check_attempts_and_redial_delay(events)
    check_hours_and_status(events, result)
    check_callbacks_within_five_minutes(events, result.ended)
    check_every_human_answer_connected_or_abandoned(events)
    check_no_contact_dialled_twice_at_once(events)
    check_fresh_contacts_in_list_order(events)


def check_attempts_and_redial_delay(events):
    ended = {e.call_id: e for e in events if isinstance(e, CallEnded)}
    counted = defaultdict(list)  # (contact, round, number) -> [(dial time, end time)]
    rounds = defaultdict(int)
    for e in events:
        if isinstance(e, CallbackScheduled):
            rounds[e.originator_id] += 1
        elif isinstance(e, DialAttempted):
            end = ended.get(e.call_id)
            if end is None or end.counts_as_attempt:
                counted[(e.originator_id, rounds[e.originator_id], e.number)].append((e.timestamp, end.timestamp if end else None))
    for key, calls in counted.items():
        assert len(calls) <= CFG["attempts_per_number"], f"{key} dialled {len(calls)} times"
        for (_, prev_end), (start, _) in itertools.pairwise(calls):
            assert prev_end is not None and start >= prev_end + timedelta(seconds=CFG["min_redial_seconds"]), f"{key} redialled early"


def check_hours_and_status(events, result):
    disabled_at = min(e.timestamp for e in events if isinstance(e, CampaignStatusChanged) and e.status is CampaignStatus.DISABLED)
    for e in events:
        if isinstance(e, DialAttempted):
            assert result.started <= e.timestamp < disabled_at


def check_callbacks_within_five_minutes(events, day_end):
    scheduled = [e for e in events if isinstance(e, CallbackScheduled)]
    assert scheduled, "the world books callbacks; some must fall in the day"
    kept = 0
    for cb in scheduled:
        if cb.callback_at > day_end - timedelta(minutes=5):
            continue
        next_dial = next(
            (e for e in events if isinstance(e, DialAttempted) and e.originator_id == cb.originator_id and e.timestamp > cb.timestamp),
            None,
        )
        assert next_dial is not None, f"callback at {cb.callback_at} never dialled"
        assert cb.callback_at <= next_dial.timestamp <= cb.callback_at + timedelta(minutes=5)
        kept += 1
    assert kept > 0


def check_every_human_answer_connected_or_abandoned(events):
    connected = {e.call_id: e for e in events if isinstance(e, CallConnected)}
    abandoned = {e.call_id for e in events if isinstance(e, CallAbandoned)}
    humans = [e for e in events if isinstance(e, CallProgressed) and e.progress is CallOutcome.ANSWERED_HUMAN]
    assert humans
    for h in humans:
        if h.call_id in connected:
            assert connected[h.call_id].wait_seconds <= 2.0 + 1e-6
        else:
            assert h.call_id in abandoned


def check_no_contact_dialled_twice_at_once(events):
    open_call = {}
    for e in events:
        if isinstance(e, DialAttempted):
            assert e.originator_id not in open_call, "dialled while a call was in progress"
            open_call[e.originator_id] = e.call_id
        elif isinstance(e, CallEnded):
            assert open_call.pop(e.originator_id) == e.call_id


def check_fresh_contacts_in_list_order(events):
    order = {e.originator_id: e.key for e in events if isinstance(e, ContactImported)}
    first_dials = []
    seen = set()
    for e in events:
        if isinstance(e, DialAttempted) and e.originator_id not in seen:
            seen.add(e.originator_id)
            first_dials.append(order[e.originator_id])
    # R11: all imported together, so oldest-created/fewest-attempts reduces to list order; a preview
    # offer that times out can let one later contact overtake, nothing more.
    inversions = sum(1 for a, b in itertools.pairwise(first_dials) if a > b)
    assert inversions <= len(first_dials) // 20


@pytest.mark.parametrize("mode", [DialMode.PREDICTIVE, DialMode.PREVIEW])
def test_a_simulated_day_with_a_filter_and_a_sort_order_keeps_every_rule_and_dials_only_what_it_selects(tmp_path, mode):
    from dialer_domain.model.events import ContactImported, DispositionRecorded
    from dialer_domain.rules.selection import contact_facts, parse_filter, parse_sort, selects_all, sort_token

    expression, order = "key <= 'c0000150' or name in ('Contact 200', 'Contact 201')", "name desc"
    store = open_event_store(f"sqlite:///{tmp_path}/filtered.db")
    try:
        cfg = SimulationConfig(mode=mode, world=WORLD, list_filter=expression, list_sort=order, **CFG)
        result = run_simulation(store, cfg, queue=bootstrap.queue(store))
        events = [r.event for r in store.read(0, 10**7)]
    finally:
        store.close()
    check_attempts_and_redial_delay(events)
    check_hours_and_status(events, result)
    check_callbacks_within_five_minutes(events, result.ended)
    check_every_human_answer_connected_or_abandoned(events)
    check_no_contact_dialled_twice_at_once(events)
    imported = {e.originator_id: e for e in events if isinstance(e, ContactImported)}
    facts = {cid: contact_facts(e.key, e.data, e.priority, e.assigned_agent) for cid, e in imported.items()}
    node = parse_filter(expression)
    first: list = []
    for e in events:
        if isinstance(e, DialAttempted) and e.originator_id not in first:
            first.append(e.originator_id)
    assert len(first) > 100 and selects_all(node, [facts[c] for c in first])  # no contact the filter leaves out is dialled
    assert sum(1 for f in facts.values() if not selects_all(node, [f])) > 90  # and it left out many
    keys = parse_sort(order)
    tokens = [sort_token(keys, facts[c]) for c in first]
    inversions = sum(1 for a, b in itertools.pairwise(tokens) if a > b)
    assert inversions <= len(tokens) // 20  # fresh contacts come in the campaign's sort order (name descending)
    assert any(isinstance(e, DispositionRecorded) and e.code in ("not_interested", "callback") for e in events)  # its own codes
