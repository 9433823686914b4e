"""The Telephony port on Twilio's Programmable Voice (the official ``twilio`` package).

* A contact's call: ``calls.create`` with ``Timeout`` (the maximum ring), ``TimeLimit`` (the
  maximum call duration), status callbacks for initiated, ringing, answered and completed, and
  (contact-first calls) asynchronous answering-machine detection with its own callback. When it is
  answered Twilio fetches our TwiML, which holds the contact until the dialler decides: bridged
  into the agent's conference, or the abandoned-call message and a hang-up.
* An agent's leg: called once at log-in; the agent waits in a ``<Conference>`` named for the
  session; a contact is bridged by redirecting their call into it.
* Reports: Twilio's webhooks arrive on the HTTP entrypoint (``entrypoints/twilio_webhooks.py``),
  which checks every request's ``X-Twilio-Signature`` and hands the form here. Twilio retries and
  reorders callbacks: a callback whose ``SequenceNumber`` is not newer than the last one of its
  call is dropped here, and the dialler's report gate admits each stage once and in order.
* A request Twilio refuses or cannot take (down, 429, 5xx) is reported as a failed call with the
  reason, never retried: a timed-out request may still have placed the call, and a retry could
  dial the contact twice.

REST requests run on a small thread pool so that the dialler's thread never waits on Twilio.
TwiML is built with the library's ``VoiceResponse``. The caller ID *name* cannot be set per call
on the public telephone network (it is registered with the number, CNAM); ``From`` carries the
caller ID number.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import attrs
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from dialer_domain.service_layer.ports import CallFate, CallReport, CallRequest, ReportKind, ReportSink

K = ReportKind
log = logging.getLogger(__name__)

#: AnsweredBy values of Twilio's machine detection that mean a person.
HUMAN = frozenset({"human", "unknown"})
#: SIP responses (Twilio's SipResponseCode) that tell a decline and a number that does not exist.
DECLINED = frozenset({"603"})
NO_SUCH_NUMBER = frozenset({"404", "484", "410"})


#: Twilio's own hold music (its default for conferences), played to a contact on hold.
HOLD_MUSIC = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"


@attrs.frozen
class TwilioSettings:
    """From the environment: DIALER_TWILIO_ACCOUNT_SID, DIALER_TWILIO_AUTH_TOKEN (a secret: it
    never appears in logs, errors, events or ``--help``), DIALER_TWILIO_PUBLIC_URL (where Twilio
    reaches this service's webhooks), DIALER_TWILIO_AGENT_CALLER_ID (the number agents' phones see),
    DIALER_TWILIO_HOLD_MUSIC_URL (what a contact on hold hears; default Twilio's own hold music),
    and DIALER_TWILIO_API_URL (only to point the client at a mock of Twilio's REST API)."""

    account_sid: str
    auth_token: str = attrs.field(repr=False)
    public_url: str
    agent_caller_id: str = ""
    api_url: str | None = None
    hold_music_url: str = HOLD_MUSIC

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TwilioSettings:
        names = ("DIALER_TWILIO_ACCOUNT_SID", "DIALER_TWILIO_AUTH_TOKEN", "DIALER_TWILIO_PUBLIC_URL")
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise ValueError(f"DIALER_TELEPHONY=twilio needs {', '.join(missing)} in the environment")
        return cls(
            account_sid=env["DIALER_TWILIO_ACCOUNT_SID"],
            auth_token=env["DIALER_TWILIO_AUTH_TOKEN"],
            public_url=env["DIALER_TWILIO_PUBLIC_URL"].rstrip("/"),
            agent_caller_id=env.get("DIALER_TWILIO_AGENT_CALLER_ID", ""),
            api_url=env.get("DIALER_TWILIO_API_URL") or None,
            hold_music_url=env.get("DIALER_TWILIO_HOLD_MUSIC_URL") or HOLD_MUSIC,
        )


#: A call's status on Twilio -> how it ended (None: still up).
ENDS: dict[str, ReportKind | None] = {
    "queued": None,
    "initiated": None,
    "ringing": None,
    "in-progress": None,
    "completed": K.COMPLETED,
    "busy": K.BUSY,
    "no-answer": K.NO_ANSWER,
    "canceled": K.NO_ANSWER,
    "failed": K.FAILED,
}


def fate_of(status: str, answered_by: str, duration: str) -> CallFate | None:
    """What a Call resource's ``status``, ``answered_by`` and ``duration`` ("" when absent) say
    became of it."""
    if status not in ENDS:
        return None
    answered = status == "in-progress" or (status == "completed" and duration not in ("", "0"))
    answer = (K.ANSWERED_HUMAN if answered_by in HUMAN or not answered_by else K.ANSWERED_MACHINE) if answered else None
    detail = f"twilio: {status}" + (f", answered by {answered_by}" if answered and answered_by else "")
    return CallFate(answer=answer, end=ENDS[status], detail=detail)


def _why(exc: Exception) -> str:
    """A failed REST request in a few words (never the credentials): its HTTP status, or the error's kind."""
    return f"HTTP {exc.status}" if isinstance(exc, TwilioRestException) else type(exc).__name__


class _BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The library's HTTP client, sending to another base URL (a local mock of the REST API)."""

    def __init__(self, api_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_url = api_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return super().request(method, re.sub(r"^https://[a-z0-9.-]*\.twilio\.com", self.api_url, url), *args, **kwargs)


def _when(form: Mapping[str, str]) -> datetime:
    stamp = form.get("Timestamp")
    if stamp:
        try:
            return parsedate_to_datetime(stamp).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


class TwilioTelephony:
    def __init__(self, settings: TwilioSettings, sink: ReportSink, *, client: Client | None = None, workers: int = 8) -> None:
        self.settings = settings
        self.sink = sink
        http = _BaseUrlHttpClient(settings.api_url, timeout=10) if settings.api_url else TwilioHttpClient(timeout=10)
        self.client = client or Client(settings.account_sid, settings.auth_token, http_client=http)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="twilio")
        self._lock = threading.Lock()
        self._sids: dict[UUID, str] = {}
        self._detect: dict[UUID, bool] = {}
        self._sequence: dict[str, int] = {}  # our call id or "leg:agent" -> the last SequenceNumber taken
        self._answered: set[UUID] = set()
        self._legs: dict[str, str] = {}  # agent -> the leg's CallSid
        self._rooms: dict[str, str] = {}  # agent -> conference name
        self._pending: dict[UUID, list[dict[str, Any]]] = {}  # commands for a call whose create has not returned
        self._queues: dict[str, deque[dict[str, Any]]] = {}  # per CallSid: commands not sent yet, in the order given

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # ------------------------------------------------------------------ the port

    def place_call(self, request: CallRequest) -> None:
        with self._lock:
            self._detect[request.call_id] = request.detect_machine
            self._pending[request.call_id] = []
        self._pool.submit(self._create, request)

    def open_agent_leg(self, agent_id: str, address: str) -> None:
        room = f"agent-{agent_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        with self._lock:
            self._rooms[agent_id] = room
            self._sequence.pop(f"leg:{agent_id}", None)
        self._pool.submit(self._create_leg, agent_id, address, room)

    def close_agent_leg(self, agent_id: str) -> None:
        with self._lock:
            sid = self._legs.pop(agent_id, None)
        if sid is not None:
            self._send(sid, {"status": "completed"})

    def bridge(self, call_id: UUID, agent_id: str) -> None:
        with self._lock:
            room = self._rooms.get(agent_id)
        response = VoiceResponse()
        if room is None:
            response.say("We are sorry; the agent's line is not open.")
            response.hangup()
        else:
            dial = Dial()
            dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=False, beep=False)
            response.append(dial)
        self._command(call_id, {"twiml": str(response)})

    def play_and_hang_up(self, call_id: UUID, message: str) -> None:
        response = VoiceResponse()
        response.say(message)
        response.hangup()
        self._command(call_id, {"twiml": str(response)})

    def hang_up(self, call_id: UUID, reason: str) -> None:
        self._command(call_id, {"status": "completed"})

    def hold(self, call_id: UUID, agent_id: str, on: bool) -> None:
        """On hold: the contact's call is taken out of the agent's conference to music on a loop (the
        agent's leg stays in its conference); off hold: it joins the conference again."""
        if not on:
            self.bridge(call_id, agent_id)
            return
        response = VoiceResponse()
        response.play(self.settings.hold_music_url, loop=0)
        self._command(call_id, {"twiml": str(response)})

    def fate(self, call_id: UUID, network_call_id: str) -> CallFate | None:
        """Twilio keeps every call: fetch it by its CallSid. A call still queued, ringing or in
        progress is this process's again (its later callbacks carry our call id in their URL).
        None when Twilio does not answer or does not know the call."""
        try:
            call = self.client.calls(network_call_id).fetch()
        except (TwilioException, OSError, ValueError) as exc:
            log.warning("Twilio did not say what became of call %s: %s", network_call_id, _why(exc))
            return None
        fate = fate_of(str(call.status or ""), str(call.answered_by or ""), str(call.duration or ""))  # None -> ""
        if fate is not None and fate.end is None:
            with self._lock:
                self._sids[call_id] = network_call_id
                self._detect[call_id] = False
                if fate.answer is not None:
                    self._answered.add(call_id)
        return fate

    # ------------------------------------------------------------------ TwiML Twilio fetches

    def contact_twiml(self, call_id: UUID) -> str:
        """What an answered contact hears until the dialler bridges or releases them: a short
        silence (the dialler decides within two seconds, R17), then a hang-up if nothing came."""
        response = VoiceResponse()
        response.pause(length=30)
        response.hangup()
        return str(response)

    def agent_twiml(self, agent_id: str) -> str:
        """The agent's leg waits in the session's conference, which outlives each contact."""
        with self._lock:
            room = self._rooms.get(agent_id)
        response = VoiceResponse()
        if room is None:
            response.say("You are not logged in to the dialler.")
            response.hangup()
            return str(response)
        dial = Dial()
        dial.conference(room, start_conference_on_enter=True, end_conference_on_exit=True, beep=False, wait_url="")
        response.append(dial)
        return str(response)

    # ------------------------------------------------------------------ webhooks (already verified)

    def on_status(self, call_id: UUID, form: Mapping[str, str]) -> None:
        if not self._newer(str(call_id), form):
            return
        status = form.get("CallStatus", "")
        at = _when(form)
        sip = form.get("SipResponseCode", "")
        detail = f"twilio: {status}" + (f" (SIP {sip})" if sip else "") + (f" (error {form['ErrorCode']})" if form.get("ErrorCode") else "")
        if status == "ringing":
            self._report(K.RINGING, at, call_id, detail)
        elif status == "in-progress":
            with self._lock:
                detect = self._detect.get(call_id, False)
            if not detect:  # with detection on, the machine-detection callback says who answered
                self._answer(call_id, at, "human")
        elif status == "completed":
            if call_id not in self._answered and form.get("CallDuration", "0") not in ("", "0"):
                self._answer(call_id, at, form.get("AnsweredBy", "human"))  # the answer's callback is late or lost
            self._report(K.COMPLETED, at, call_id, detail)
            self._forget(call_id)
        elif status == "busy":
            self._report(K.REJECTED if sip in DECLINED else K.BUSY, at, call_id, detail)
            self._forget(call_id)
        elif status in ("no-answer", "canceled"):
            self._report(K.NO_ANSWER, at, call_id, detail)
            self._forget(call_id)
        elif status == "failed":
            self._report(K.INVALID_NUMBER if sip in NO_SUCH_NUMBER else K.FAILED, at, call_id, detail)
            self._forget(call_id)

    def on_amd(self, call_id: UUID, form: Mapping[str, str]) -> None:
        self._answer(call_id, _when(form), form.get("AnsweredBy", "unknown"))

    def on_leg_status(self, agent_id: str, form: Mapping[str, str], room: str | None = None) -> None:
        """``room``: the conference the leg was made for (in its callback URL). A leg of an earlier
        session, or of the process before a restart, is not the agent's leg now: its reports are dropped."""
        with self._lock:
            if room is not None and room != self._rooms.get(agent_id):
                return
        if not self._newer(f"leg:{agent_id}", form):
            return
        status = form.get("CallStatus", "")
        if status == "in-progress":
            self._report(K.AGENT_LEG_UP, _when(form), None, "twilio: agent answered", agent_id=agent_id)
        elif status in ("completed", "busy", "no-answer", "failed", "canceled"):
            with self._lock:
                self._legs.pop(agent_id, None)
            self._report(K.AGENT_LEG_ENDED, _when(form), None, f"twilio: agent leg {status}", agent_id=agent_id)

    # ------------------------------------------------------------------ inside

    def _answer(self, call_id: UUID, at: datetime, answered_by: str) -> None:
        with self._lock:
            if call_id in self._answered:
                return
            self._answered.add(call_id)
        kind = K.ANSWERED_HUMAN if answered_by in HUMAN else K.ANSWERED_MACHINE
        self._report(kind, at, call_id, f"twilio: answered by {answered_by}")

    def _newer(self, key: str, form: Mapping[str, str]) -> bool:
        """Twilio's SequenceNumber orders a call's status callbacks: drop a repeat or an older one."""
        raw = form.get("SequenceNumber")
        if raw is None or not raw.isdigit():
            return True
        seq = int(raw)
        with self._lock:
            if seq <= self._sequence.get(key, -1):
                return False
            self._sequence[key] = seq
        return True

    def _report(self, kind: ReportKind, at: datetime, call_id: UUID | None, detail: str, agent_id: str | None = None) -> None:
        self.sink.report(CallReport(kind, at, call_id=call_id, agent_id=agent_id, detail=detail))

    def _forget(self, call_id: UUID) -> None:
        with self._lock:
            self._sids.pop(call_id, None)
            self._detect.pop(call_id, None)
            self._answered.discard(call_id)
            self._pending.pop(call_id, None)

    def _url(self, path: str) -> str:
        return f"{self.settings.public_url}{path}"

    def _create(self, r: CallRequest) -> None:
        options: dict[str, Any] = {}
        if r.detect_machine:
            options = {
                "machine_detection": "Enable",
                "async_amd": "true",
                "async_amd_status_callback": self._url(f"/twilio/amd/{r.call_id}"),
                "async_amd_status_callback_method": "POST",
            }
        try:
            call = self.client.calls.create(
                to=r.number,
                from_=r.caller_id_number,
                url=self._url(f"/twilio/twiml/contact/{r.call_id}"),
                method="POST",
                status_callback=self._url(f"/twilio/status/{r.call_id}"),
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
                timeout=r.max_ring_seconds,
                time_limit=r.max_call_seconds,
                **options,
            )
        except TwilioRestException as exc:
            self._refused(r.call_id, f"Twilio refused the call: HTTP {exc.status}" + (f", error {exc.code}" if exc.code else ""))
            return
        except (TwilioException, OSError, ValueError) as exc:  # requests' errors are OSErrors
            self._refused(r.call_id, f"Twilio could not be reached: {type(exc).__name__}")
            return
        sid = str(call.sid)
        with self._lock:
            self._sids[r.call_id] = sid
            pending = self._pending.pop(r.call_id, [])
            if pending:  # first in the call's queue, ahead of any command given from now on
                self._queues[sid] = deque(pending)
        self.sink.report(CallReport(K.PLACED, datetime.now(UTC), call_id=r.call_id, network_call_id=sid))
        if pending:
            self._drain(sid)

    def _refused(self, call_id: UUID, reason: str) -> None:
        self._forget(call_id)
        self._report(K.FAILED, datetime.now(UTC), call_id, reason)

    def _create_leg(self, agent_id: str, address: str, room: str) -> None:
        try:
            call = self.client.calls.create(
                to=address,
                from_=self.settings.agent_caller_id or address,
                url=self._url(f"/twilio/twiml/agent/{agent_id}"),
                method="POST",
                status_callback=self._url(f"/twilio/legs/{agent_id}?{urlencode({'room': room})}"),
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                status_callback_method="POST",
            )
        except (TwilioException, OSError, ValueError) as exc:
            self._report(K.AGENT_LEG_ENDED, datetime.now(UTC), None, f"Twilio refused the agent's leg: {_why(exc)}", agent_id=agent_id)
            return
        with self._lock:
            self._legs[agent_id] = str(call.sid)

    def _command(self, call_id: UUID, params: dict[str, Any]) -> None:
        with self._lock:
            sid = self._sids.get(call_id)
            if sid is None:
                pending = self._pending.get(call_id)
                if pending is not None:  # the create has not returned yet: run it after
                    pending.append(params)
                return
        self._send(sid, params)

    def _send(self, sid: str, params: dict[str, Any]) -> None:
        """Send a command after every earlier one for the same call: the pool's threads would
        otherwise race them, and Twilio applies what arrives last (a hold overtaken by the bridge
        it follows would leave the contact off hold)."""
        with self._lock:
            queue = self._queues.get(sid)
            if queue is not None:  # a thread is sending this call's commands: it sends this one next
                queue.append(params)
                return
            self._queues[sid] = deque([params])
        self._pool.submit(self._drain, sid)

    def _drain(self, sid: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[sid]
                if not queue:
                    del self._queues[sid]
                    return
                params = queue.popleft()
            self._update(sid, params)

    def _update(self, sid: str, params: dict[str, Any]) -> None:
        try:
            self.client.calls(sid).update(**params)
        except (TwilioException, OSError, ValueError) as exc:
            # the call has ended meanwhile, or Twilio is unreachable: its status callback still tells the dialler how it ended
            log.warning("Twilio did not take %s for call %s: %s", ", ".join(params), sid, _why(exc))
