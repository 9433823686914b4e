"""The compliance report (issue 16): a simulated day's dials re-checked from their evidence, and a
dial that broke the callee's hours found by the report, not by the dialler that recorded it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from adapters.persistence.eventstore import open_event_store
from adapters.views.compliance import compliance_report
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.events import CallAbandoned, CallProgressed, DialAttempted
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import CallOutcome, ContactData, ContactState, DialMode, PhoneNumber
from dialer_domain.rules.abandon_cap import AbandonLedger
from dialer_domain.rules.calling_hours import CalleeTime
from dialer_domain.service_layer.repository import Repository
from entrypoints.simulate import SimulationConfig, run_simulation


def test_a_simulated_day_passes_and_its_abandon_rate_is_the_events(tmp_path):
    store = open_event_store(f"sqlite:///{tmp_path}/day.db")
    run_simulation(store, SimulationConfig(mode=DialMode.PREDICTIVE, agents=5, contacts=600, hours=1.0, seed=3, campaign_name="Day"))
    r = compliance_report(store, "Day", date(2026, 11, 23), date(2026, 11, 23))
    events = [x.event for x in store.read(0, 10**8)]
    dials = [e for e in events if isinstance(e, DialAttempted)]
    answered = sum(1 for e in events if isinstance(e, CallProgressed) and e.progress is CallOutcome.ANSWERED_HUMAN)
    abandoned = [e for e in events if isinstance(e, CallAbandoned)]
    assert r["dials"] == len(dials) > 0 and r["dials_by_policy"] == {"us_tcpa": len(dials)}
    assert (r["dials_outside_callee_hours"], r["dials_without_caller_id"], r["dials_ringing_under_15_s"]) == (0, 0, 0)
    assert r["dials_without_callee_evidence"] == 0 and r["dials_not_checked_against_do_not_call_lists"] == 0 and r["offending_dials"] == []
    period = r["abandon_rate"]["period"]
    assert (period["answered_by_a_person"], period["abandoned"]) == (answered, len(abandoned))
    assert r["abandon_rate"]["rolling_30_days"]["abandoned"] == len(abandoned)
    if abandoned:
        assert r["longest_wait_before_the_abandon_message_s"] == round(max(e.wait_seconds for e in abandoned), 3)
    assert compliance_report(store, "Day", date(2026, 11, 24), date(2026, 11, 24))["dials"] == 0  # another day


def test_a_dial_outside_the_callees_hours_is_found_from_its_evidence_and_the_cli_files_it(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/bad.db"
    store = open_event_store(url)
    run_simulation(store, SimulationConfig(mode=DialMode.POWER, agents=2, contacts=50, hours=0.25, seed=4, campaign_name="Night"))
    repo = Repository(store)
    ny = ZoneInfo("America/New_York")
    at = datetime(2026, 11, 23, 22, 30, tzinfo=ny).astimezone(UTC)  # 22:30 in New York; 04:30 the next day in Copenhagen
    contact = ContactAttempt.import_(
        uuid4(), campaign_id=campaign_id_for("Night"), key="ny-late", numbers=(PhoneNumber("+12125550100"),), data=ContactData(), at=at
    )
    contact.queue(at)
    assert contact.state is ContactState.QUEUED
    config = repo.get(Campaign, campaign_id_for("Night")).config
    callee = CalleeTime.judge(at, contact_zone=None, number_zones=("America/New_York",), campaign_zone="Europe/Copenhagen")
    contact.dial(call_id=uuid4(), settings=config, dial_mode=DialMode.POWER, agent_id=None, decision_id=None, checks=(), at=at, callee=callee)
    repo.save(contact)  # as a faulty dialler would have recorded it
    r = compliance_report(store, "Night", date(2026, 11, 23), date(2026, 11, 24))
    assert r["dials_outside_callee_hours"] == 1
    [bad] = r["offending_dials"]
    assert (bad["number"], bad["callee_zones"], bad["callee_local_times"]) == ("+12125550100", ["America/New_York"], ["2026-11-23T22:30:00-05:00"])
    assert "Mon 22:30:00 in America/New_York" in bad["why"]
    store.close()

    from entrypoints.cli import app

    monkeypatch.setenv("DIALER_DATABASE_URL", url)
    out = tmp_path / "report.md"
    result = CliRunner().invoke(app, ["audit", "compliance", "--campaign", "Night", "--from", "2026-11-23", "--to", "2026-11-24", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "**Verdict: BREACHES FOUND (see the table, and the dials listed below).**" in text
    assert "| 2026-11-24T03:30:00+00:00 | +12125550100 |" in text
    bad_dates = CliRunner().invoke(app, ["audit", "compliance", "--campaign", "Night", "--from", "yesterday", "--to", "2026-11-24"])
    assert bad_dates.exit_code == 2 and "days like 2026-11-23" in bad_dates.output


def test_a_simulated_night_dials_nobody_and_its_report_says_which_rule_refused():
    store = open_event_store("memory:")
    cfg = SimulationConfig(mode=DialMode.POWER, agents=2, contacts=40, hours=0.5, opens_at="22:00", seed=2, campaign_name="Late")
    result = run_simulation(store, cfg)
    c = result.summary["compliance"]
    assert result.summary["dials"] == 0 and c["dials"] == 0
    assert c["dials_refused_by_rule"].get("callee_local_hours", 0) > 0 and set(c["dials_refused_by_rule"]) == {"callee_local_hours"}
    assert c["contacts_held_back"] == c["dials_refused_by_rule"]["callee_local_hours"]


@pytest.mark.parametrize(("mode", "seed"), [(DialMode.PREDICTIVE, 5), (DialMode.POWER, 6)])
def test_pacing_set_to_over_dial_never_lets_the_rolling_abandon_rate_pass_the_cap(mode, seed):
    """A campaign whose own pacing would abandon far more than 3% (a target of 8%, power at 3 calls
    per ready agent): at every abandoned call of the day the rolling rate, counted from the log,
    stays within the cap; without the cap the same day passes it."""

    def worst(cap):
        store = open_event_store("memory:")
        cfg = SimulationConfig(
            mode=mode, agents=12, contacts=2500, hours=1.5, seed=seed, target_abandon_rate=0.08, power_ratio_ready=3.0, abandon_cap=cap
        )
        run_simulation(store, cfg)
        ledger, rates = AbandonLedger(), []
        for r in store.read(0, 10**8):
            ledger.apply(r.event)
            if isinstance(r.event, CallAbandoned):
                [w24, _] = ledger.windows(campaign_of(store), r.event.timestamp)
                rates.append(w24.abandoned / w24.answered)
        return max(rates, default=0.0), len(rates)

    capped, abandons = worst(0.03)
    assert capped <= 0.03 and abandons > 3
    uncapped, _ = worst(None)
    assert uncapped > 0.03


def campaign_of(store):
    return next(r.event.originator_id for r in store.read(0, 10) if r.event.NAME == "CampaignCreated")
