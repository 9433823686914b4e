"""The live service end to end, in real time (the simulated world 40 times faster than the wall
clock): a person logs in through the HTTP API beside two simulated agents, gets a call with its
screen pop on their live stream, hangs up and disposes it; the supervisor's views move; a graceful
stop leaves every call that started with an end in the log."""

from __future__ import annotations

import json
import threading
from collections import Counter
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from adapters.persistence.eventstore import open_event_store
from adapters.telephony.simulated import WorldParams
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.events import CallEnded, DialAttempted, DispositionRecorded
from dialer_domain.model.identities import campaign_id_for
from dialer_domain.model.values import DialMode, GuideQuestion
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import create_app
from entrypoints.demo import DEMO_SKILL, ensure_demo_campaign
from entrypoints.service import LiveService, ServiceStopped
from tests.conftest import wait_until

WORLD = WorldParams(p_human=0.6, p_machine=0.1, p_busy=0.05, p_unreachable=0.05, talk_mean=40, talk_sd=10, wrap_mean=5, wrap_sd=1)


def test_a_person_takes_a_call_beside_simulated_agents_and_a_graceful_stop_ends_every_call(tmp_path):
    from datetime import UTC, datetime

    store = open_event_store(f"sqlite:///{tmp_path}/live.db")
    repo = Repository(store)
    ensure_demo_campaign(repo, at=datetime.now(UTC), contacts=120, mode=DialMode.POWER)
    demo = repo.get(Campaign, campaign_id_for("Demo"))
    demo.set_call_guide((GuideQuestion("Interested?", ("yes", "no")),), datetime.now(UTC), "test")
    repo.save(demo)
    service = LiveService(store, speed=40.0, world=WORLD, seed=5)
    events: list[dict] = []
    tokens = bootstrap.tokens(store)
    me = {"Authorization": f"Bearer {tokens.create('agent', 'me')[1]}"}
    boss_id, boss_token = tokens.create("supervisor")
    boss = {"Authorization": f"Bearer {boss_token}"}
    with TestClient(create_app(service=service), headers=me) as client:
        assert service.add_bots(2, (DEMO_SKILL,)) == ["bot-01", "bot-02"]
        # 401 without a valid token, 403 for another agent's session or a supervisor's view
        assert client.post("/agents/me/ready", headers={"Authorization": ""}).status_code == 401
        assert client.post("/agents/me/ready", headers={"Authorization": "Bearer dlr_000000000000_forged"}).status_code == 401
        assert client.post("/agents/bot-01/pause", json={"reason_code": "break"}).status_code == 403
        assert client.get("/supervisor/agents").status_code == 403
        assert client.get("/campaigns/Demo/imports").status_code == 403
        r = client.post("/agents/me/login", json={"skills": [DEMO_SKILL], "name": "Me"})
        assert r.status_code == 200 and r.json()["state"] in ("logged_in", "not_ready", "paused", "ready"), r.text

        def listen() -> None:
            with client.stream("GET", "/agents/me/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if events[-1]["type"] == "connected":
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        watched: list[dict] = []

        def watch() -> None:
            with client.stream("GET", "/supervisor/events", headers=boss) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        watched.append(json.loads(line[6:]))
                        if any(w["type"] == "agent" and w["state"] == "talking" for w in watched):
                            return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert client.post("/agents/me/ready").json()["state"] == "ready"
        wait_until(lambda: any(e["type"] == "connected" for e in events), timeout=120, what="a call for the person")
        wait_until(lambda: any(w["type"] == "agent" and w["state"] == "talking" for w in watched), timeout=60, what="the supervisor's stream")
        assert any(w["type"] == "campaign" and w["campaign"] == "Demo" for w in watched)
        assert client.get("/supervisor/events").status_code == 403  # an agent's token
        pop = next(e for e in events if e["type"] == "connected")["contact"]
        assert pop["key"].startswith("demo-") and pop["variables"]["segment"] == "demo" and pop["numbers"]  # R9's screen pop
        assert pop["guide"] == [{"question": "Interested?", "answers": ["yes", "no"]}]  # R18's call guide
        assert client.get("/agents/me").json()["state"] == "talking"
        assert client.post("/agents/me/hangup").json()["state"] == "wrap_up"
        assert client.post("/agents/me/dispose", json={"code": "no-such-code", "ready": True}).status_code in (409, 422)
        assert client.get("/agents/me").json()["state"] == "wrap_up"  # neither stored
        done = client.post("/agents/me/dispose", json={"code": "sale", "note": "two lines", "ready": True})
        assert done.status_code == 200 and done.json()["state"] != "wrap_up"  # disposed and ready, one request
        agents = {a["agent"]: a for a in client.get("/supervisor/agents", headers=boss).json()}
        assert {"bot-01", "bot-02", "me"} <= set(agents)
        [demo] = [q for q in client.get("/supervisor/queues", headers=boss).json() if q["campaign"] == "Demo"]
        assert demo["status"] == "automatic"
        assert demo["compliance"]["answered_24h"] > 0 and demo["compliance"]["refused_24h"] == {}  # issue 16: what a supervisor watches
        assert all("abandon_rate_24h" in w for w in watched if w["type"] == "campaign")
        assert client.post("/agents/somebody-else/ready", headers=boss).status_code == 404  # never logged in
        assert tokens.revoke(boss_id) and client.get("/supervisor/agents", headers=boss).status_code == 401
        wait_until(lambda: sum(1 for r in store.read(0, 10**6) if isinstance(r.event, CallEnded)) >= 10, timeout=120, what="ten calls")
    # the client closed: the service stopped gracefully (no new dials, calls in progress ended)
    log = [r.event for r in store.read(0, 10**6)]
    started = Counter(e.call_id for e in log if isinstance(e, DialAttempted))
    ended = Counter(e.call_id for e in log if isinstance(e, CallEnded))
    assert started and started == ended  # every call that started has exactly one end
    assert any(isinstance(e, DispositionRecorded) and e.code == "sale" and e.agent_id == "me" for e in log)
    with pytest.raises(ServiceStopped, match="stopping"):  # a stopped service takes no command
        service.call(lambda e: None)
    store.close()


@pytest.fixture
def twilio_env(monkeypatch, prism_url):
    """DIALER_TELEPHONY=twilio, its REST API served by Prism; gives (auth token, public URL)."""
    token, public = "live-test-token-0123456789", "https://dialer.example.test"
    for name, value in {
        "DIALER_TELEPHONY": "twilio",
        "DIALER_TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
        "DIALER_TWILIO_AUTH_TOKEN": token,
        "DIALER_TWILIO_PUBLIC_URL": public,
        "DIALER_TWILIO_API_URL": prism_url,
    }.items():
        monkeypatch.setenv(name, value)
    return token, public


def test_a_campaign_runs_on_twilio_through_the_service_and_its_signed_webhooks(tmp_path, twilio_env):
    """`dialer serve` with DIALER_TELEPHONY=twilio: the agent's leg is called at log-in, the dialler
    places calls through Twilio's REST API (Prism), Twilio's signed webhooks carry the progress
    back through the report inbox, and the answered contact is bridged into the agent's conference."""
    from datetime import UTC, datetime

    from adapters.telephony.twilio import TwilioTelephony
    from dialer_domain.model.events import CallConnected
    from tests.integration.twilio_mock import sign

    token, public = twilio_env
    store = open_event_store(f"sqlite:///{tmp_path}/twilio.db")
    ensure_demo_campaign(Repository(store), at=datetime.now(UTC), contacts=20, mode=DialMode.POWER)
    service = LiveService(store, telephony="twilio")
    tel = service.telephony
    assert isinstance(tel, TwilioTelephony)
    agent_token = bootstrap.tokens(store).create("agent", "a1")[1]
    with TestClient(create_app(service=service), headers={"Authorization": f"Bearer {agent_token}"}) as client:

        def webhook(path: str, form: dict[str, str]) -> int:
            return client.post(path, data=form, headers={"X-Twilio-Signature": sign(token, public + path, form)}).status_code

        assert client.post("/agents/a1/login", json={"skills": [DEMO_SKILL], "phone": "+4520000099"}).status_code == 200
        wait_until(lambda: "a1" in tel._legs, timeout=60, what="the agent's leg placed through Twilio")
        leg = f"/twilio/legs/a1?{urlencode({'room': tel._rooms['a1']})}"  # the URL the adapter gave Twilio
        assert webhook(leg, {"CallStatus": "in-progress", "SequenceNumber": "1"}) == 204
        assert client.post("/agents/a1/ready").json()["state"] == "ready"
        wait_until(lambda: len(tel._sids) >= 1, timeout=60, what="a call placed through Twilio")
        call_id = next(iter(tel._sids))
        for seq, status in enumerate(("ringing", "in-progress"), start=1):
            assert webhook(f"/twilio/status/{call_id}", {"CallStatus": status, "SequenceNumber": str(seq)}) == 204
        assert webhook(f"/twilio/amd/{call_id}", {"AnsweredBy": "human"}) == 204
        assert webhook(f"/twilio/amd/{call_id}", {"AnsweredBy": "human"}) == 204  # Twilio's retry: once only
        wait_until(lambda: client.get("/agents/a1").json()["state"] == "talking", timeout=60, what="the bridge")
        assert webhook(f"/twilio/status/{call_id}", {"CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "20"}) == 204
        wait_until(lambda: client.get("/agents/a1").json()["state"] == "wrap_up", timeout=60, what="wrap-up")
        assert client.post(f"/twilio/status/{call_id}", data={"CallStatus": "busy"}).status_code == 403  # unsigned
    log = [r.event for r in store.read(0, 10**6)]
    assert sum(1 for e in log if isinstance(e, CallConnected) and e.call_id == call_id) == 1
    assert sum(1 for e in log if isinstance(e, CallEnded) and e.call_id == call_id) == 1
    tel.close()
    store.close()


def test_after_a_restart_on_twilio_calls_in_flight_are_asked_about_and_the_agent_phone_is_called_again(tmp_path, twilio_env):
    """The process goes away with a call connected and others ringing (nothing more reaches the
    log, as after kill -9). The next process asks Twilio's REST API (Prism) what became of each call
    by the CallSid the log keeps, ends each as Twilio says, and calls the agent's phone again."""
    from datetime import UTC, datetime

    from adapters.telephony.twilio import TwilioTelephony
    from dialer_domain.model.events import CallPlaced
    from dialer_domain.model.values import CallOutcome
    from tests.integration.twilio_mock import sign

    token, public = twilio_env
    store = open_event_store(f"sqlite:///{tmp_path}/restart.db")
    ensure_demo_campaign(Repository(store), at=datetime.now(UTC), contacts=20, mode=DialMode.POWER)
    auth = {"Authorization": f"Bearer {bootstrap.tokens(store).create('agent', 'a1')[1]}"}

    def log():
        return [r.event for r in store.read(0, 10**6)]

    first = LiveService(store, telephony="twilio")
    tel = first.telephony
    assert isinstance(tel, TwilioTelephony)
    with TestClient(create_app(service=first), headers=auth) as client:

        def webhook(path: str, form: dict[str, str]) -> int:
            return client.post(path, data=form, headers={"X-Twilio-Signature": sign(token, public + path, form)}).status_code

        assert client.post("/agents/a1/login", json={"skills": [DEMO_SKILL], "phone": "+4520000099"}).status_code == 200
        wait_until(lambda: "a1" in tel._legs, timeout=60, what="the agent's leg placed through Twilio")
        assert webhook(f"/twilio/legs/a1?{urlencode({'room': tel._rooms['a1']})}", {"CallStatus": "in-progress", "SequenceNumber": "1"}) == 204
        assert client.post("/agents/a1/ready").json()["state"] == "ready"
        wait_until(lambda: len(tel._sids) >= 1, timeout=60, what="a call placed through Twilio")
        call_id = next(iter(tel._sids))
        wait_until(lambda: any(isinstance(e, CallPlaced) and e.call_id == call_id for e in log()), timeout=60, what="its CallSid in the log")
        for seq, status in enumerate(("ringing", "in-progress"), start=1):
            assert webhook(f"/twilio/status/{call_id}", {"CallStatus": status, "SequenceNumber": str(seq)}) == 204
        assert webhook(f"/twilio/amd/{call_id}", {"AnsweredBy": "human"}) == 204
        wait_until(lambda: client.get("/agents/a1").json()["state"] == "talking", timeout=60, what="the bridge")
        first.stop(drain_seconds=0)  # gone with its calls in flight
    tel.close()
    started = {e.call_id for e in log() if isinstance(e, DialAttempted)}
    in_flight = started - {e.call_id for e in log() if isinstance(e, CallEnded)}
    named = {e.call_id for e in log() if isinstance(e, CallPlaced)} & in_flight
    assert call_id in named

    second = LiveService(store, telephony="twilio")
    tel2 = second.telephony
    assert isinstance(tel2, TwilioTelephony)
    with TestClient(create_app(service=second), headers=auth) as client:
        wait_until(lambda: in_flight <= {e.call_id for e in log() if isinstance(e, CallEnded)}, timeout=60, what="every call in flight settled")
        wait_until(lambda: "a1" in tel2._legs, timeout=60, what="the agent's phone called again")
        ends = {e.call_id: e for e in log() if isinstance(e, CallEnded)}
        # Prism serves Twilio's example call: completed after 4 s, answered by a machine
        assert ends[call_id].outcome is CallOutcome.COMPLETED
        assert ends[call_id].reason == "twilio: completed, answered by machine_start (asked after the dialler restarted)"
        assert all(ends[c].reason.endswith("(asked after the dialler restarted)") for c in named)
        assert all("what became of the call is unknown" in ends[c].reason for c in in_flight - named)
        assert client.get("/agents/a1").json()["state"] in ("wrap_up", "ready")
        second.stop(drain_seconds=0)
    ended = Counter(e.call_id for e in log() if isinstance(e, CallEnded) and e.call_id in started)
    assert set(ended) == started and set(ended.values()) == {1}  # every call of the first process: exactly one end
    tel2.close()
    store.close()


def test_in_preview_the_agent_takes_an_offer_with_its_screen_pop_and_the_call_is_placed_for_them(tmp_path):
    from datetime import UTC, datetime

    store = open_event_store(f"sqlite:///{tmp_path}/preview.db")
    ensure_demo_campaign(Repository(store), at=datetime.now(UTC), contacts=20)  # the demo's default: preview
    service = LiveService(store, speed=20.0, world=WORLD, seed=4)
    me = {"Authorization": f"Bearer {bootstrap.tokens(store).create('agent', 'me')[1]}"}
    events: list[dict] = []
    with TestClient(create_app(service=service), headers=me) as client:
        client.post("/agents/me/login", json={"skills": [DEMO_SKILL]})

        def listen() -> None:
            with client.stream("GET", "/agents/me/events") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if sum(1 for e in events if e["type"] == "offer") >= 2:
                            return

        client.post("/agents/me/ready")  # often offered at once: the stream opened after still gets the offer
        threading.Thread(target=listen, daemon=True).start()
        wait_until(lambda: any(e["type"] == "offer" for e in events), timeout=60, what="an offer")
        assert events[0]["type"] == "state"  # a stream starts with the agent's state
        offer = next(e for e in events if e["type"] == "offer")
        assert offer["contact"]["key"].startswith("demo-") and offer["contact"]["variables"]["product"]
        assert client.get("/agents/me").json()["state"] == "offered"
        taken = client.post(f"/agents/me/offers/{offer['offer_id']}/accept")
        assert taken.status_code == 200 and taken.json()["call_id"]
        again = client.post(f"/agents/me/offers/{offer['offer_id']}/accept")
        assert again.status_code == 409  # an offer is taken once
        call_id = taken.json()["call_id"]
        wait_until(
            lambda: any(isinstance(r.event, CallEnded) and str(r.event.call_id) == call_id for r in store.read(0, 10**6)),
            timeout=60,
            what="the call placed for the agent to end",
        )
        dialled = [r.event for r in store.read(0, 10**6) if isinstance(r.event, DialAttempted) and str(r.event.call_id) == call_id]
        assert len(dialled) == 1 and dialled[0].agent_id == "me"
        boss = {"Authorization": f"Bearer {bootstrap.tokens(store).create('supervisor')[1]}"}
        trail = client.get(f"/audit/contacts/Demo/{offer['contact']['key']}", headers=boss).json()  # R20 over HTTP
        assert any(e["event"] == "DialAttempted" and e["data"]["agent_id"] == "me" for e in trail["events"])
        assert client.get("/audit/agents/me", headers=boss).json()["events"]
        assert client.get("/audit/campaigns/Demo?limit=5", headers=boss).status_code == 200
        assert client.get("/audit/agents/me").status_code == 403  # an agent's token
    store.close()
