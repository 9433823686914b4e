"""Campaign administration over HTTP: create, read, change every R5 setting, priority, dial mode,
opening hours and their exceptions, status; figures; roles; clear errors that name the problem."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from entrypoints import bootstrap
from entrypoints.api import create_app


@pytest.fixture(params=["sqlite", "postgres"])
def api(request, tmp_path):
    url = f"sqlite:///{tmp_path}/c.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    app = create_app(url)
    tokens = bootstrap.tokens(app.state.store.get())
    staff = {"Authorization": f"Bearer {tokens.create('admin')[1]}"}
    agent = {"Authorization": f"Bearer {tokens.create('agent', 'a1')[1]}"}
    with TestClient(app) as client:
        yield client, staff, agent


def test_a_campaign_is_created_configured_and_switched_over_http(api):
    client, staff, agent = api
    body = {
        "name": "Win-back",
        "manager": "ann",
        "dial_mode": "power",
        "priority": 7,
        "settings": {
            "max_ring_seconds": 30,
            "dispositions": ["answering_machine", "busy", "fax", "no_answer", "sale", "voicemail", {"code": "later", "callback": True}],
        },
        "hours": {"weekly": "mon-fri=09:00-12:00,13:00-17:00", "time_zone": "Europe/Copenhagen", "exceptions": ["2026-12-24=closed"]},
    }
    assert client.post("/campaigns", json=body).status_code == 401
    assert client.post("/campaigns", json=body, headers=agent).status_code == 403
    r = client.post("/campaigns", json=body, headers=staff)
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["status"], c["dial_mode"], c["priority"]) == ("disabled", "power", 7)
    assert (c["settings"]["skill"], c["settings"]["max_ring_seconds"]) == ("Win-back", 30)
    later = next(d for d in c["settings"]["dispositions"] if d["code"] == "later")
    assert (later["callback"], later["ends_contact"], later["label"]) == (True, False, "")
    assert next(d for d in c["settings"]["dispositions"] if d["code"] == "sale")["success"] is True
    assert c["hours"]["exceptions"][0]["day"] == "2026-12-24"
    assert client.post("/campaigns", json=body, headers=staff).status_code == 409  # the name is taken

    change = {"settings": {"wrapup_seconds": 45, "target_abandon_rate": 0.02}, "dial_mode": "predictive"}
    r = client.patch("/campaigns/Win-back", json=change, headers=staff)
    assert r.status_code == 200, r.text
    assert (r.json()["settings"]["wrapup_seconds"], r.json()["settings"]["max_ring_seconds"], r.json()["dial_mode"]) == (45, 30, "predictive")
    bad = client.patch("/campaigns/Win-back", json={"settings": {"max_ring": 3}}, headers=staff)
    assert bad.status_code == 422 and "max_ring" in bad.json()["detail"]
    bad = client.patch("/campaigns/Win-back", json={"settings": {"max_ring_seconds": -1}}, headers=staff)
    assert bad.status_code == 422 and "max_ring_seconds" in bad.json()["detail"]
    bad = client.patch("/campaigns/Win-back", json={"hours": {"weekly": "monday=9-5"}}, headers=staff)
    assert bad.status_code == 422 and "monday=9-5" in bad.json()["detail"]
    bad = client.patch("/campaigns/Win-back", json={"hours": {"weekly": "mon=09:00-17:00", "exceptions": ["xmas=closed"]}}, headers=staff)
    assert bad.status_code == 422 and "xmas" in bad.json()["detail"]

    no_id = client.put("/campaigns/Win-back/status", json={"status": "automatic"}, headers=staff)
    assert no_id.status_code == 409 and "no caller ID number" in no_id.json()["detail"]
    short = client.patch("/campaigns/Win-back", json={"settings": {"max_ring_seconds": 10}}, headers=staff)
    assert short.status_code == 422 and "at least 15" in short.json()["detail"]
    assert client.patch("/campaigns/Win-back", json={"settings": {"caller_id_number": "+4570123456"}}, headers=staff).status_code == 200
    assert client.put("/campaigns/Win-back/status", json={"status": "automatic"}, headers=staff).json()["status"] == "automatic"
    gone = client.patch("/campaigns/Win-back", json={"no_hours": True}, headers=staff)
    assert gone.status_code in (409, 422) and "hours" in gone.json()["detail"]  # Automatic needs hours
    assert client.get("/campaigns/Win-back", headers=staff).json()["hours"] is not None  # nothing half-written
    assert [x["name"] for x in client.get("/campaigns", headers=staff).json()] == ["Win-back"]
    assert client.get("/campaigns/Nope", headers=staff).status_code == 404
    figures = client.get("/campaigns/Win-back/figures", headers=staff).json()
    assert figures["total"]["dials"] == 0 and figures["hours"] == []
    assert client.get("/campaigns/Win-back/figures?day=yesterday", headers=staff).status_code == 422


def test_a_call_guide_is_set_shown_and_checked(api):
    client, staff, _ = api
    assert client.post("/campaigns", json={"name": "Guided", "manager": "ann"}, headers=staff).status_code == 201
    guide = [{"question": "Interested in fibre?", "answers": ["yes", "no", "later"]}, {"question": "Anything else?", "answers": []}]
    r = client.put("/campaigns/Guided/guide", json=guide, headers=staff)
    assert r.status_code == 200 and r.json()["call_guide"] == guide
    assert client.get("/campaigns/Guided", headers=staff).json()["call_guide"] == guide
    bad = client.put("/campaigns/Guided/guide", json=[{"question": "Twice?", "answers": ["yes", "yes"]}], headers=staff)
    assert bad.status_code == 422 and "twice" in bad.json()["detail"]
    bad = client.put("/campaigns/Guided/guide", json=[{"question": "", "answers": []}], headers=staff)
    assert bad.status_code == 422 and "question" in bad.json()["detail"]
    assert client.get("/campaigns/Guided", headers=staff).json()["call_guide"] == guide  # nothing half-written
    assert client.put("/campaigns/Guided/guide", json=[], headers=staff).json()["call_guide"] == []


def test_every_change_names_who_made_it_and_a_change_that_breaks_a_rule_is_refused_whole(api):
    client, staff, _ = api
    assert client.post("/campaigns", json={"name": "Edited", "manager": "ann"}, headers=staff).status_code == 201
    bad_id = client.patch("/campaigns/Edited", json={"settings": {"caller_id_number": "+4570000000", "wrapup_seconds": 40}}, headers=staff)
    assert bad_id.status_code == 422 and "caller_id_number '+4570000000' is not a valid number" in bad_id.json()["detail"]
    bad_priority = client.patch("/campaigns/Edited", json={"priority": 11, "settings": {"wrapup_seconds": 40}}, headers=staff)
    assert bad_priority.status_code == 422 and "priority" in bad_priority.text
    untouched = client.get("/campaigns/Edited", headers=staff).json()
    assert (untouched["settings"]["wrapup_seconds"], untouched["priority"], untouched["version"]) == (15, 5, 1)  # nothing half-written
    change = {
        "description": "Customers who left in 2025",
        "manager": "bo",
        "priority": 9,
        "dial_mode": "power",
        "settings": {"caller_id_number": "+45 70 12 34 56", "caller_id_name": "Acme", "power_ratio_ready": 2.0, "power_ratio_wrapup": 0.3,
                     "auto_answer": False, "max_per_click": 5, "max_held": 20, "extensions": ["201", "202"], "max_call_seconds": 1800},
    }
    r = client.patch("/campaigns/Edited", json=change, headers=staff)
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["description"], c["manager"], c["priority"], c["dial_mode"]) == ("Customers who left in 2025", "bo", 9, "power")
    assert c["settings"]["caller_id_number"] == "+4570123456" and c["settings"]["extensions"] == ["201", "202"]
    trail = client.get("/audit/campaigns/Edited", headers=staff).json()["events"]
    changes = [e for e in trail if e["event"] != "CampaignCreated"]
    assert [e["event"] for e in changes] == ["CampaignSettingsChanged", "CampaignPriorityChanged", "CampaignDialModeChanged", "CampaignDescribed"]
    assert all(e["data"]["changed_by"].startswith("admin token ") for e in changes)
    enabled = client.put("/campaigns/Edited/status", json={"status": "enabled"}, headers=staff)
    assert enabled.status_code == 200
    lose_id = client.patch("/campaigns/Edited", json={"settings": {"caller_id_number": ""}}, headers=staff)
    assert lose_id.status_code == 409 and "caller ID" in lose_id.json()["detail"]


def test_callbacks_are_booked_moved_and_cancelled_over_http_and_a_time_outside_the_hours_is_refused_or_moved(api):
    client, staff, agent = api
    body = {"name": "Calls", "manager": "ann", "hours": {"weekly": "mon-sun=00:00-23:59", "time_zone": "UTC"}}
    assert client.post("/campaigns", json=body, headers=staff).status_code == 201
    assert client.post("/campaigns/Calls/contacts", json={"key": "c-1", "numbers": ["+4520123456"]}, headers=staff).status_code == 201
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert client.put("/campaigns/Calls/callbacks/c-1", json={"at": soon.isoformat()}, headers=agent).status_code == 403
    r = client.put("/campaigns/Calls/callbacks/c-1", json={"at": soon.isoformat(), "agent": "a7"}, headers=staff)
    assert r.status_code == 200 and (r.json()["moved"], r.json()["state"]) == (False, "callback_scheduled"), r.text
    later = soon + timedelta(hours=1)
    r = client.put("/campaigns/Calls/callbacks/c-1", json={"at": later.isoformat()}, headers=staff)
    assert r.json()["moved"] and datetime.fromisoformat(r.json()["callback_at"]) == later
    naive = client.put("/campaigns/Calls/callbacks/c-1", json={"at": "2030-01-01T10:00:00"}, headers=staff)
    assert naive.status_code == 422 and "needs a time zone" in naive.json()["detail"]
    assert client.put("/campaigns/Calls/callbacks/nobody", json={"at": later.isoformat()}, headers=staff).status_code == 404
    # the hours narrow to 09:00-17:00 UTC: 23:30 is refused with the next opening, then moved there
    assert client.patch("/campaigns/Calls", json={"hours": {"weekly": "mon-sun=09:00-17:00", "time_zone": "UTC"}}, headers=staff).status_code == 200
    night = (datetime.now(UTC) + timedelta(days=1)).replace(hour=23, minute=30, second=0, microsecond=0)
    refused = client.put("/campaigns/Calls/callbacks/c-1", json={"at": night.isoformat()}, headers=staff)
    assert refused.status_code == 422 and f"the next opening is {night.date() + timedelta(days=1)} 09:00 UTC" in refused.json()["detail"]
    assert client.patch("/campaigns/Calls", json={"settings": {"callback_outside_hours": "move"}}, headers=staff).status_code == 200
    moved = client.put("/campaigns/Calls/callbacks/c-1", json={"at": night.isoformat()}, headers=staff).json()
    assert moved["callback_at"].startswith(f"{night.date() + timedelta(days=1)}T09:00") and "moved to the next opening" in moved["warning"]
    r = client.delete("/campaigns/Calls/callbacks/c-1?reason=customer%20called%20in", headers=staff)
    assert r.status_code == 200 and r.json()["state"] == "pending"
    again = client.delete("/campaigns/Calls/callbacks/c-1", headers=staff)
    assert again.status_code == 409 and "no callback booked" in again.json()["detail"]
    trail = client.get("/audit/contacts/Calls/c-1", headers=staff).json()["events"]
    names = [e["event"] for e in trail]
    assert names == ["ContactImported", "CallbackScheduled", "CallbackMoved", "CallbackMoved", "CallbackCancelled"]
    assert trail[3]["data"]["note"].startswith("asked for") and trail[-1]["data"]["reason"] == "customer called in"


def test_the_list_selection_over_http(api):
    client, staff, agent = api
    assert client.post("/campaigns", json={"name": "Sel", "manager": "ann"}, headers=staff).status_code == 201
    for key, product in [("c-1", "A"), ("c-2", "B"), ("c-3", "C")]:
        body = {"key": key, "numbers": [f"+452012345{key[-1]}"], "variables": {"product": product}}
        assert client.post("/campaigns/Sel/contacts", json=body, headers=staff).status_code == 201
    change = {"save": {"name": "ab", "expression": "product in ('A','B')"}, "active": "ab", "sort": "product desc"}
    assert client.patch("/campaigns/Sel/selection", json=change, headers=agent).status_code == 403
    r = client.patch("/campaigns/Sel/selection", json=change, headers=staff)
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.json()["sort"], r.json()["list"]["selected"], r.json()["list"]["left_out"]) == ("ab", ["product desc"], 2, 1)
    bad = client.patch("/campaigns/Sel/selection", json={"save": {"name": "x", "expression": "product in ('A',"}}, headers=staff)
    assert bad.status_code == 422 and "filter 'x'" in bad.json()["detail"]
    none = client.patch("/campaigns/Sel/selection", json={"save": {"name": "z", "expression": "product = 'Z'"}, "active": "z"}, headers=staff)
    assert "matches none of the 3 contacts" in none.json()["list"]["warning"]
    off = client.patch("/campaigns/Sel/selection", json={"active": None}, headers=staff).json()
    assert off["active"] is None and off["list"] == {"filter": None, "selected": 3, "left_out": 0, "warning": None}
    trail = client.get("/audit/campaigns/Sel", headers=staff).json()["events"]
    assert [e["event"] for e in trail if e["event"] == "CampaignSelectionChanged"] == ["CampaignSelectionChanged"] * 3
