"""The telephony contract (tests/integration/telephony_contract.py) run against every adapter:
the fake, the simulated world, Twilio (against Prism serving Twilio's own OpenAPI description)
and SIP (against SIPp)."""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import subprocess
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
import simpy
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.telephony.fake import FakeTelephony
from adapters.telephony.simulated import SimulatedTelephony, VirtualClock, WorldParams
from adapters.telephony.sip import SipSettings, SipTelephony
from adapters.telephony.twilio import TwilioSettings, TwilioTelephony, fate_of
from dialer_domain.service_layer.ports import CallFate, ReportKind
from entrypoints.twilio_webhooks import twilio_router
from tests.conftest import wait_until
from tests.integration.telephony_contract import GatedSink, Harness, TelephonyContract, request
from tests.integration.twilio_mock import free_port, sign

K = ReportKind


class FakeHarness(Harness):
    names_calls = True
    knows_fates = True

    def __init__(self) -> None:
        self.sink = GatedSink()
        self.telephony = FakeTelephony(self.sink)

    def place(self, outcome):
        r = request()
        t = self.telephony
        t.place_call(r)
        c = r.call_id
        t.name(c, f"fake-{c}")
        t.fates[f"fake-{c}"] = CallFate(answer=None, end=K.FAILED, detail="fake: the network remembers")
        match outcome:
            case "answer then hang up":
                t.ring(c)
                t.answer(c)
            case "machine":
                t.ring(c)
                t.answer(c, machine=True)
            case "busy":
                t.end(c, K.BUSY, "busy")
            case "no answer":
                t.ring(c)
                t.end(c, K.NO_ANSWER, "no answer")
            case "rejected":
                t.ring(c)
                t.end(c, K.REJECTED, "declined")
            case "invalid number":
                t.end(c, K.INVALID_NUMBER, "no such number")
            case "failed":
                t.end(c, K.FAILED, "network failure")
        return c

    def after_answer(self, call_id, agent_id):
        self.telephony.bridge(call_id, agent_id)
        self.telephony.end(call_id, K.COMPLETED, "contact hung up")

    def on_hold(self, call_id):
        told = [on for c, _agent, on in self.telephony.held if c == call_id]
        return told[-1] if told else None

    def far_end_hangs_up(self, call_id):
        self.telephony.end(call_id, K.COMPLETED, "contact hung up")

    def redeliver(self, report):
        self.sink.report(report)

    def open_leg(self, agent_id):
        self.telephony.open_agent_leg(agent_id, "sip:7@pbx.example")
        self.telephony.leg_up(agent_id)

    def agent_hangs_up(self, agent_id):
        self.telephony.leg_hangs_up(agent_id)


#: outcome -> the simulated world that behaves so
WORLDS = {
    "answer then hang up": WorldParams(p_human=1, p_machine=0, p_busy=0, p_unreachable=0, human_answer_median=4, talk_mean=6, talk_sd=1),
    "machine": WorldParams(p_human=0, p_machine=1, p_busy=0, p_unreachable=0, machine_answer_median=5),
    "busy": WorldParams(p_human=0, p_machine=0, p_busy=1, p_unreachable=0),
    "no answer": WorldParams(p_human=0, p_machine=0, p_busy=0, p_unreachable=0),
    "rejected": WorldParams(p_human=0, p_machine=0, p_busy=0, p_unreachable=0, p_rejected=1),
    "invalid number": WorldParams(p_human=0, p_machine=0, p_busy=0, p_unreachable=0, p_invalid=1),
    "failed": WorldParams(p_human=0, p_machine=0, p_busy=0, p_unreachable=1),
}


class SimulatedHarness(Harness):
    def __init__(self) -> None:
        self.sink = GatedSink()
        self.env = simpy.Environment()
        self.clock = VirtualClock(self.env, datetime(2026, 11, 23, 9, tzinfo=UTC))
        self.worlds: dict[object, SimulatedTelephony] = {}
        self.telephony = self._world(WORLDS["no answer"])

    def _world(self, params: WorldParams) -> SimulatedTelephony:
        t = SimulatedTelephony(self.env, random.Random(1), params, self.clock)
        t.sink = self.sink
        return t

    def place(self, outcome):
        world = self._world(WORLDS[outcome])
        r = request()
        world.place_call(r)
        self.worlds[r.call_id] = world
        return r.call_id

    def after_answer(self, call_id, agent_id):
        self.worlds[call_id].bridge(call_id, agent_id)

    def place_for_hold(self):
        call = self.place("answer then hang up")
        self.telephony = self.worlds[call]  # the port the test commands is the call's world
        return call

    def on_hold(self, call_id):
        world = self.worlds[call_id]
        told = [on for c, _agent, on in world.held if c == call_id]
        assert (call_id in world.on_hold) == bool(told and told[-1])
        return told[-1] if told else None

    def connect(self, call_id, agent_id):
        self.worlds[call_id].bridge(call_id, agent_id)

    def redeliver(self, report):
        self.sink.report(report)

    def open_leg(self, agent_id):
        self.telephony.open_agent_leg(agent_id, "sim")

    def agent_hangs_up(self, agent_id):
        self.telephony.agent_leg_drops(agent_id)

    def wait(self, condition, what):
        while not condition():
            if self.env.peek() == float("inf"):
                raise AssertionError(f"the simulated world went quiet before {what}")
            self.env.step()


class TestFakeTelephony(TelephonyContract):
    @pytest.fixture
    def harness(self):
        return FakeHarness()


class TestSimulatedTelephony(TelephonyContract):
    @pytest.fixture
    def harness(self):
        return SimulatedHarness()


# ---------------------------------------------------------------- Twilio, against Prism

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://dialer.example.test"


def twilio_settings(api_url: str) -> TwilioSettings:
    return TwilioSettings(account_sid="AC" + "1" * 32, auth_token=TOKEN, public_url=PUBLIC, agent_caller_id="+4570000001", api_url=api_url)


#: outcome -> the status callbacks Twilio sends, in order (CallStatus, extra form fields); "amd"
#: entries go to the machine-detection callback
TWILIO_SCRIPTS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "answer then hang up": [("ringing", {}), ("in-progress", {}), ("amd", {"AnsweredBy": "human"})],
    "machine": [("ringing", {}), ("in-progress", {}), ("amd", {"AnsweredBy": "machine_start"})],
    "busy": [("busy", {"SipResponseCode": "486"})],
    "no answer": [("ringing", {}), ("no-answer", {"SipResponseCode": "487"})],
    "rejected": [("ringing", {}), ("busy", {"SipResponseCode": "603"})],
    "invalid number": [("failed", {"SipResponseCode": "404", "ErrorCode": "13224"})],
    "failed": [("failed", {"SipResponseCode": "503", "ErrorCode": "31005"})],
}


class TwilioHarness(Harness):
    names_calls = True
    knows_fates = True

    def __init__(self, api_url: str) -> None:
        self.sink = GatedSink()
        self.telephony = TwilioTelephony(twilio_settings(api_url), self.sink)
        app = FastAPI()
        app.include_router(twilio_router(self.telephony))
        self.http = TestClient(app)
        self.seq = itertools.count(1)
        self.sent: dict[object, tuple[str, dict[str, str]]] = {}
        self.updates: list[dict[str, str]] = []  # what the adapter asked Twilio to do to calls, once Prism took it
        update = self.telephony._update

        def recording(sid, params):
            update(sid, params)
            self.updates.append(params)

        self.telephony._update = recording

    def post(self, path: str, form: dict[str, str], *, signed: bool = True) -> int:
        headers = {"X-Twilio-Signature": sign(TOKEN, PUBLIC + path, form)} if signed else {}
        return self.http.post(path, data=form, headers=headers).status_code

    def status(self, call_id, status: str, extra: dict[str, str] | None = None, seq: int | None = None) -> None:
        number = next(self.seq) if seq is None else seq
        form = {"CallSid": "CA" + "a" * 32, "AccountSid": "AC" + "1" * 32, "CallStatus": status, "SequenceNumber": str(number)}
        form.update(extra or {})
        if status == "amd":
            form.pop("CallStatus")
            form.pop("SequenceNumber")
            path = f"/twilio/amd/{call_id}"
        else:
            path = f"/twilio/status/{call_id}"
        assert self.post(path, form) == 204
        self.sent[call_id] = (path, form)

    def place(self, outcome):
        r = request()
        self.telephony.place_call(r)
        wait_until(lambda: r.call_id in self.telephony._sids, timeout=60, what="Prism to take the call")
        for status, extra in TWILIO_SCRIPTS[outcome]:
            self.status(r.call_id, status, extra)
        return r.call_id

    def after_answer(self, call_id, agent_id):
        self.telephony.bridge(call_id, agent_id)
        self.status(call_id, "completed", {"CallDuration": "42"})

    def on_hold(self, call_id):
        """From the updates the adapter sent Twilio (Prism took each): music, then the conference again."""
        twiml = [p["twiml"] for p in self.updates if "twiml" in p]
        if not any("<Play" in t for t in twiml):
            return None
        return "<Play" in twiml[-1]

    def far_end_hangs_up(self, call_id):
        self.status(call_id, "completed", {"CallDuration": "42"})

    def redeliver(self, report):
        if report.kind is K.RINGING:  # an old ringing callback, as Twilio's retries deliver them late
            self.status(report.call_id, "ringing", seq=0)
        else:  # the very same request again
            path, form = self.sent[report.call_id]
            assert self.post(path, form) == 204

    def open_leg(self, agent_id):
        self.telephony.open_agent_leg(agent_id, "+4520000099")
        wait_until(lambda: agent_id in self.telephony._legs, timeout=60, what="Prism to take the agent's leg")
        assert self.post(self.leg_path(agent_id), {"CallStatus": "in-progress", "SequenceNumber": "2"}) == 204

    def agent_hangs_up(self, agent_id):
        assert self.post(self.leg_path(agent_id), {"CallStatus": "completed", "SequenceNumber": "3"}) == 204

    def leg_path(self, agent_id: str, room: str | None = None) -> str:
        """The leg's status callback URL as the adapter gave it to Twilio (with its conference)."""
        return f"/twilio/legs/{agent_id}?{urlencode({'room': room or self.telephony._rooms[agent_id]})}"


class TestTwilioTelephony(TelephonyContract):
    @pytest.fixture
    def harness(self, prism_url):
        h = TwilioHarness(prism_url)
        yield h
        h.telephony.close()


class _Refusing(BaseHTTPRequestHandler):
    """Twilio having a bad day: every request gets 429 Too Many Requests."""

    calls = 0

    def do_POST(self):
        type(self).calls += 1
        body = b'{"code": 20429, "message": "Too Many Requests", "status": 429}'
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_twilio_refusing_or_unreachable_is_a_failed_call_with_the_reason_and_no_second_dial():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        h = TwilioHarness(f"http://127.0.0.1:{server.server_address[1]}")
        r = request()
        h.telephony.place_call(r)
        wait_until(lambda: h.sink.kinds(r.call_id) == (K.FAILED,), timeout=60, what="the refusal")
        assert "HTTP 429" in h.sink.last(r.call_id).detail and TOKEN not in h.sink.last(r.call_id).detail
        assert _Refusing.calls == 1  # never retried: a retry could dial the contact twice
    finally:
        server.shutdown()
    down = TwilioHarness(f"http://127.0.0.1:{free_port_closed()}")
    r = request()
    down.telephony.place_call(r)
    wait_until(lambda: down.sink.kinds(r.call_id) == (K.FAILED,), timeout=60, what="the unreachable API")
    assert down.sink.last(r.call_id).detail.startswith("Twilio could not be reached")


def free_port_closed() -> int:
    return free_port()  # bound and released: nothing listens there


def test_forged_missing_and_replayed_webhooks(prism_url):
    h = TwilioHarness(prism_url)
    r = request()
    h.telephony.place_call(r)
    wait_until(lambda: r.call_id in h.telephony._sids, timeout=60, what="Prism to take the call")
    form = {"CallStatus": "ringing", "SequenceNumber": "1"}
    path = f"/twilio/status/{r.call_id}"
    assert h.post(path, form, signed=False) == 403
    forged = {"X-Twilio-Signature": sign("not-the-token", PUBLIC + path, form)}
    assert h.http.post(path, data=form, headers=forged).status_code == 403
    tampered = {"X-Twilio-Signature": sign(TOKEN, PUBLIC + path, form)}
    assert h.http.post(path, data={**form, "CallStatus": "completed"}, headers=tampered).status_code == 403
    other_host = {"X-Twilio-Signature": sign(TOKEN, "https://evil.example" + path, form)}
    assert h.http.post(path, data=form, headers=other_host).status_code == 403
    wait_until(lambda: h.sink.names(r.call_id) != [], timeout=60, what="the call's CallSid")
    progress = lambda: [x for x in h.sink.received if x.kind is not K.PLACED]  # noqa: E731
    assert progress() == []  # nothing changed
    assert h.post(path, form) == 204 and h.post(path, form) == 204  # Twilio's retry of the same callback
    assert h.sink.kinds(r.call_id) == (K.RINGING,) and len(progress()) == 1
    # a completed callback that overtakes the answer: the answer is reported first, once
    h.status(r.call_id, "completed", {"CallDuration": "30", "AnsweredBy": "human"}, seq=2)
    h.status(r.call_id, "amd", {"AnsweredBy": "human"})
    assert h.sink.kinds(r.call_id) == (K.RINGING, K.ANSWERED_HUMAN, K.COMPLETED)
    h.telephony.close()


def test_a_stale_agent_leg_says_nothing_of_the_agent_leg_held_now(prism_url):
    """After a restart (or a second log-in) the agent's phone is called again; the earlier leg's
    callbacks, with their own conference in the URL, must not end the new leg."""
    h = TwilioHarness(prism_url)
    h.open_leg("a1")
    stale = h.leg_path("a1", room="agent-a1-20261123T080000")
    assert h.post(stale, {"CallStatus": "completed", "SequenceNumber": "9"}) == 204
    assert h.sink.leg_kinds("a1") == (K.AGENT_LEG_UP,) and "a1" in h.telephony._legs
    h.agent_hangs_up("a1")
    assert h.sink.leg_kinds("a1") == (K.AGENT_LEG_UP, K.AGENT_LEG_ENDED)
    h.telephony.close()


def test_twiml_is_built_by_the_library_and_the_agent_waits_in_a_conference(prism_url):
    h = TwilioHarness(prism_url)
    h.telephony.open_agent_leg("a1", "+4520000099")
    wait_until(lambda: "a1" in h.telephony._legs, timeout=60, what="the agent's leg")
    path = "/twilio/twiml/agent/a1"
    body = h.http.post(path, data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": sign(TOKEN, PUBLIC + path, {"CallSid": "CA1"})})
    assert body.status_code == 200 and body.headers["content-type"].startswith("application/xml")
    assert "<Conference" in body.text and "agent-a1-" in body.text
    message = "This was a call from Win-back & Co. <sales>"
    h.telephony.play_and_hang_up(uuid_of_unknown_call(), message)  # no such call: nothing is sent
    from twilio.twiml.voice_response import VoiceResponse

    r = VoiceResponse()
    r.say(message)
    assert "&amp; Co. &lt;sales&gt;" in str(r)  # escaped by the library, never formatted by hand
    h.telephony.close()


def uuid_of_unknown_call():
    import uuid

    return uuid.uuid4()


def test_twilio_credentials_never_reach_help_errors_logs_or_reports(monkeypatch, caplog, prism_url):
    import logging
    import subprocess
    import sys

    from entrypoints import bootstrap

    secret = "sk-" + "9f" * 16
    monkeypatch.setenv("DIALER_TELEPHONY", "twilio")
    monkeypatch.setenv("DIALER_TWILIO_AUTH_TOKEN", secret)
    monkeypatch.delenv("DIALER_TWILIO_ACCOUNT_SID", raising=False)
    with pytest.raises(ValueError) as missing:
        bootstrap.telephony(GatedSink())
    assert "DIALER_TWILIO_ACCOUNT_SID" in str(missing.value) and secret not in str(missing.value)
    monkeypatch.setenv("DIALER_TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("DIALER_TWILIO_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("DIALER_TWILIO_API_URL", prism_url)
    sink = GatedSink()
    tel = bootstrap.telephony(sink)
    assert secret not in repr(tel.settings)
    caplog.set_level(logging.DEBUG)
    tel.place_call(request())
    tel.hang_up(request().call_id, "test")
    tel.close()
    assert secret not in caplog.text and all(secret not in r.detail for r in sink.received)
    env = {**os.environ, "DIALER_TWILIO_AUTH_TOKEN": secret}
    for args in (["--help"], ["api", "--help"], ["simulate", "--help"]):
        out = subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True, env=env, check=False)
        assert out.returncode == 0 and secret not in out.stdout + out.stderr


# ---------------------------------------------------------------- SIP, against SIPp


SIPP_DIR = Path(__file__).parent / "sipp"
SIPP_RUN = ("-m", "1", "-timeout", "60s", "-nostdin", "-trace_err")  # one call, then exit with the scenario's verdict
SIP_SCENARIOS = {
    "answer then hang up": "answer",
    "machine": "machine",
    "busy": "busy",
    "no answer": "noanswer",
    "rejected": "decline",
    "invalid number": "invalid",
    "failed": "failed",
}


def _udp_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class SipHarness(Harness):
    """SIPp plays the far end, one scenario per call; each SIPp must finish its scenario (exit 0):
    it checks what the dialler sent (P-Asserted-Identity, ACK, CANCEL, BYE)."""

    names_calls = True  # the dialog's Call-ID; a new process cannot ask about a dialog (knows_fates False)

    def __init__(self, workdir: Path) -> None:
        self.sink = GatedSink()
        self.workdir = workdir
        self.sipps: list[tuple[str, subprocess.Popen]] = []
        self.placed: list = []
        self._telephony: SipTelephony | None = None

    @property
    def telephony(self) -> SipTelephony:
        if self._telephony is None:
            self._telephony = SipTelephony(SipSettings(trunk="127.0.0.1:5060", domain="dialer.example.test"), self.sink)
        return self._telephony

    def sipp(self, scenario: str) -> int:
        port = free_port()
        proc = subprocess.Popen(
            [*("sipp", "-sf", str(SIPP_DIR / f"{scenario}.xml"), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(port)), *SIPP_RUN],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.sipps.append((scenario, proc))
        wait_until(lambda: _udp_taken(port) or proc.poll() is not None, timeout=30, what=f"SIPp ({scenario}) to listen")
        assert proc.poll() is None, f"SIPp ({scenario}) stopped: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}"
        return port

    def place(self, outcome, scenario: str | None = None):
        port = self.sipp(scenario or SIP_SCENARIOS[outcome])
        r = request(number=f"sip:+4520000001@127.0.0.1:{port}", ring=3)
        self.telephony.place_call(r)
        self.placed.append(r.call_id)
        return r.call_id

    def after_answer(self, call_id, agent_id):
        self.open_leg(agent_id)
        wait_until(lambda: K.AGENT_LEG_UP in self.sink.leg_kinds(agent_id), timeout=30, what="the agent's leg")
        self.telephony.bridge(call_id, agent_id)

    def place_for_hold(self):
        return self.place("", scenario="hold")  # SIPp checks the two re-INVITEs (sendonly, then sendrecv)

    def connect(self, call_id, agent_id):
        self.after_answer(call_id, agent_id)

    def on_hold(self, call_id):
        return self.telephony.held(call_id)

    def redeliver(self, report):
        self.sink.report(report)  # the SIP stack absorbs the network's retransmissions itself

    def open_leg(self, agent_id):
        port = self.sipp("agent")
        self.telephony.open_agent_leg(agent_id, f"sip:{agent_id}@127.0.0.1:{port}")

    def agent_hangs_up(self, agent_id):
        pass  # the agent's phone (SIPp) hangs up by itself after holding the leg

    def close(self) -> None:
        """Let every SIPp finish its scenario (each ends its own dialogs), then stop the user agent."""
        for call in self.placed:  # as the dialler does after a machine answers: hang up (ignored once ended)
            self.telephony.hang_up(call, "test over")
        try:
            self._check_sipps()
        finally:
            if self._telephony is not None:
                self._telephony.close()

    def _check_sipps(self) -> None:
        for scenario, proc in self.sipps:
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "killed"
            errors = "\n".join(p.read_text()[-800:] for p in self.workdir.glob(f"{scenario}_*_errors.log"))
            assert code == 0, f"SIPp's {scenario} scenario did not finish as scripted ({code}): {errors}"


class TestSipTelephony(TelephonyContract):
    @pytest.fixture
    def harness(self, tmp_path):
        h = SipHarness(tmp_path)
        yield h
        h.close()


def test_sip_early_media_then_answer(tmp_path):
    h = SipHarness(tmp_path)
    try:
        call = h.place("", scenario="earlymedia")
        wait_until(lambda: K.COMPLETED in h.sink.kinds(call), timeout=60, what="the call to end")
        assert h.sink.kinds(call) == (K.RINGING, K.ANSWERED_HUMAN, K.COMPLETED)
        assert "183" in next(r.detail for r in h.sink.received if r.kind is K.RINGING)
    finally:
        h.close()


def test_sip_settings_come_from_the_environment_without_showing_the_password():
    env = {"DIALER_SIP_TRUNK": "sip.example.net:5060", "DIALER_SIP_PASSWORD": "pw-" + "7" * 20, "DIALER_SIP_BIND": "0.0.0.0:5070"}
    s = SipSettings.from_env(env)
    assert (s.trunk, s.bind_address, s.bind_port) == ("sip.example.net:5060", "0.0.0.0", 5070)
    assert env["DIALER_SIP_PASSWORD"] not in repr(s)
    with pytest.raises(ValueError, match="DIALER_SIP_TRUNK"):
        SipSettings.from_env({})


@pytest.mark.parametrize(
    ("status", "answered_by", "duration", "answer", "end"),
    [
        ("queued", "", "", None, None),
        ("ringing", "", "", None, None),
        ("in-progress", "", "", K.ANSWERED_HUMAN, None),
        ("in-progress", "machine_start", "", K.ANSWERED_MACHINE, None),
        ("completed", "human", "42", K.ANSWERED_HUMAN, K.COMPLETED),
        ("completed", "fax", "3", K.ANSWERED_MACHINE, K.COMPLETED),
        ("completed", "", "0", None, K.COMPLETED),
        ("busy", "", "0", None, K.BUSY),
        ("no-answer", "", "0", None, K.NO_ANSWER),
        ("canceled", "", "0", None, K.NO_ANSWER),
        ("failed", "", "0", None, K.FAILED),
    ],
)
def test_what_a_twilio_call_resource_says_became_of_the_call(status, answered_by, duration, answer, end):
    fate = fate_of(status, answered_by, duration)
    assert fate is not None and (fate.answer, fate.end) == (answer, end) and fate.detail.startswith(f"twilio: {status}")


def test_an_unknown_twilio_status_is_no_fate():
    assert fate_of("something-new", "", "") is None


class _OneCall(BaseHTTPRequestHandler):
    """Twilio's REST API for one call that is still in progress: fetch says so; updates are kept."""

    status = "in-progress"
    updates: list[tuple[str, str]] = []

    def _send(self, code: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if not self.path.endswith("/Calls/CA0123.json"):
            return self._send(404, {"code": 20404, "message": "not found", "status": 404})
        return self._send(200, {"sid": "CA0123", "status": type(self).status, "answered_by": None, "duration": None})

    def do_POST(self):
        form = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        type(self).updates.append((self.path, form))
        return self._send(200, {"sid": "CA0123", "status": "completed"})

    def log_message(self, *args):
        pass


def test_a_twilio_call_still_up_after_a_restart_is_held_again_and_an_unknown_one_is_no_fate():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OneCall)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        h = TwilioHarness(f"http://127.0.0.1:{server.server_address[1]}")  # a new process: it never placed the call
        call = request().call_id
        fate = h.telephony.fate(call, "CA0123")
        assert fate == CallFate(answer=K.ANSWERED_HUMAN, end=None, detail="twilio: in-progress")
        h.telephony.hang_up(call, "the dialler restarted")
        wait_until(lambda: _OneCall.updates, timeout=60, what="the hang-up")
        assert _OneCall.updates[0][0].endswith("/Calls/CA0123.json") and "Status=completed" in _OneCall.updates[0][1]
        h.status(call, "completed", {"CallDuration": "42"})  # its callbacks are the new process's now
        assert h.sink.kinds(call) == (K.COMPLETED,)  # the answer was known already: not reported again
        assert h.telephony.fate(request().call_id, "CA9999") is None  # Twilio does not know it
        h.telephony.close()
    finally:
        server.shutdown()


class _SlowClient:
    """Twilio's client as far as calls go: create names the call at once; each update takes a
    random few milliseconds (as requests over a network do) and is recorded as it lands."""

    SID = "CA" + "b" * 32

    def __init__(self) -> None:
        self.landed: list[tuple[str, dict[str, str]]] = []
        self.rng = random.Random(5)
        self.lock = threading.Lock()
        self.calls = _SlowCalls(self)


class _SlowCalls:
    def __init__(self, client: _SlowClient) -> None:
        self.client = client

    def create(self, **_: object) -> SimpleNamespace:
        return SimpleNamespace(sid=_SlowClient.SID)

    def __call__(self, sid: str) -> SimpleNamespace:
        client = self.client

        def update(**params: str) -> None:
            with client.lock:
                delay = client.rng.random() * 0.01
            threading.Event().wait(delay)
            with client.lock:
                client.landed.append((sid, params))

        return SimpleNamespace(update=update)


def test_twilio_commands_for_one_call_reach_twilio_in_the_order_given():
    """Bridge, hold, resume, hold, hang up in a row: eight pool threads must not reorder them
    (Twilio applies what arrives last: a hold overtaken by its bridge left the contact off hold)."""
    client = _SlowClient()
    sink = GatedSink()
    tel = TwilioTelephony(twilio_settings("http://127.0.0.1:9"), sink, client=client)  # type: ignore[arg-type]
    tel.open_agent_leg("agent-1", "sip:7@pbx.example")
    r = request()
    tel.place_call(r)
    wait_until(lambda: r.call_id in tel._sids, timeout=30, what="the call's sid")
    given = []
    for _ in range(5):
        tel.bridge(r.call_id, "agent-1")
        tel.hold(r.call_id, "agent-1", True)
        given += ["<Conference", "<Play"]
    tel.hang_up(r.call_id, "done")
    given.append("completed")
    tel.close()
    landed = [p.get("twiml", p.get("status", "")) for _sid, p in client.landed]
    assert len(landed) == len(given)
    assert all(want in got for want, got in zip(given, landed, strict=True)), landed
