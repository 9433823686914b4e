"""The Telephony port as a SIP user agent on pjsua2 (PyPI ``pjsua2-python``).

* A contact's call: INVITE to ``sip:NUMBER@TRUNK`` (or a SIP URI as given), the caller ID in
  ``From`` (display name and number) and in ``P-Asserted-Identity``. Provisional responses: 180,
  and 183 with early media, are ringing. 200/ACK is an answer. At the maximum ring time an
  unanswered call is cancelled (CANCEL) and reported as no answer; at the maximum call duration
  an answered one is ended (BYE). Final responses: 486/600 busy, 480/408/487 no answer, 603
  declined, 404/484/410 invalid number, others (5xx) failed.
* Machine detection is the trunk's: a 200 OK carrying ``X-AMD-Result: machine`` (or ``fax``)
  is an answer by a machine (the header's name is configurable); pjsua2 itself does not detect.
* Agents' legs: a SIP call to the agent's extension at log-in, held for the session; a contact
  is bridged into it on the library's conference bridge.
* The abandoned-call message: a WAV file (``DIALER_SIP_ABANDON_WAV``) played to the contact,
  then BYE; with no file configured the contact is hung up at once.
* Registration to the trunk is optional (``DIALER_SIP_REGISTRAR`` with a user name and password;
  the password is a secret and never appears in logs, errors or reports).

pjsua2 is not thread-safe in the way the dialler's callers are: one worker thread owns the
library. The port's methods queue commands for it; it runs them, polls the library's events and
the ring and duration deadlines, and reports to the sink (which is thread-safe).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pjsua2 as pj

from adapters.telephony.sip_settings import SipSettings
from dialer_domain.service_layer.ports import CallReport, CallRequest, ReportKind, ReportSink

K = ReportKind
log = logging.getLogger(__name__)

BUSY = frozenset({486, 600})
NO_ANSWER = frozenset({480, 408, 487})
DECLINED = frozenset({603})
NO_SUCH_NUMBER = frozenset({404, 484, 410})
MACHINE_VERDICTS = frozenset({"machine", "fax"})


class _Call(pj.Call):  # type: ignore[misc]
    """One SIP dialog: a contact's call (``call_id``) or an agent's leg (``agent_id``)."""

    def __init__(self, ua: SipTelephony, account: pj.Account, *, call_id: UUID | None = None, agent_id: str | None = None) -> None:
        super().__init__(account)
        self.ua = ua
        self.call_id = call_id
        self.agent_id = agent_id
        self.answered = False
        self.ended = False
        self.ring_deadline: float | None = None
        self.call_seconds = 0
        self.end_deadline: float | None = None
        self.media: Any = None
        self.verdict = ""  # the trunk's machine-detection header, when its 200 OK carries one
        self.resume_to: str | None = None  # off hold: the agent to bridge back to once media flows

    def onCallState(self, prm: Any) -> None:
        self.ua._on_state(self, prm)

    def onCallMediaState(self, prm: Any) -> None:
        self.ua._on_media(self)


class SipTelephony:
    def __init__(self, settings: SipSettings, sink: ReportSink, *, log_level: int = 0) -> None:
        self.settings = settings
        self.sink = sink
        self.log_level = log_level
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._calls: dict[UUID, _Call] = {}
        self._legs: dict[str, _Call] = {}
        self._accounts: dict[str, pj.Account] = {}
        self._players: list[Any] = []
        self._later: list[tuple[float, Callable[[], None]]] = []
        self._held: dict[UUID, bool] = {}  # a contact's media on hold (True) or taken off (False)
        self.local_port = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sip-ua", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._failure is not None:
            raise RuntimeError(f"the SIP user agent did not start: {self._failure}") from None

    # ------------------------------------------------------------------ the port

    def place_call(self, request: CallRequest) -> None:
        self._commands.put(lambda: self._place(request))

    def open_agent_leg(self, agent_id: str, address: str) -> None:
        self._commands.put(lambda: self._open_leg(agent_id, address))

    def close_agent_leg(self, agent_id: str) -> None:
        self._commands.put(lambda: self._end_leg(agent_id))

    def bridge(self, call_id: UUID, agent_id: str) -> None:
        self._commands.put(lambda: self._bridge(call_id, agent_id))

    def play_and_hang_up(self, call_id: UUID, message: str) -> None:
        self._commands.put(lambda: self._play_and_hang_up(call_id))

    def hang_up(self, call_id: UUID, reason: str) -> None:
        self._commands.put(lambda: self._hang_up_call(call_id))

    def hold(self, call_id: UUID, agent_id: str, on: bool) -> None:
        """A re-INVITE with the contact's media on hold (sendonly), the bridge to the agent cut; off
        hold, a re-INVITE that takes it off (sendrecv), and the bridge again once media flows."""
        self._commands.put(lambda: self._hold(call_id, agent_id, on))

    def fate(self, call_id: UUID, network_call_id: str) -> None:
        """A SIP dialog lives in the user agent that made it: a new process can neither ask about it nor end it."""
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)

    # ------------------------------------------------------------------ the worker thread

    def _run(self) -> None:
        try:
            self.ep = pj.Endpoint()
            self.ep.libCreate()
            cfg = pj.EpConfig()
            cfg.uaConfig.threadCnt = 0
            cfg.uaConfig.mainThreadOnly = False
            cfg.uaConfig.userAgent = "dialer-core"
            cfg.logConfig.level = self.log_level
            cfg.logConfig.consoleLevel = self.log_level
            cfg.medConfig.noVad = True
            self.ep.libInit(cfg)
            self.ep.audDevManager().setNullDev()
            tc = pj.TransportConfig()
            tc.boundAddress = self.settings.bind_address
            tc.port = self.settings.bind_port
            tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
            self.local_port = int(self.ep.transportGetInfo(tid).localName.rpartition(":")[2])
            self.ep.libStart()
        except Exception as exc:  # pjsua2 raises its own Error; the message names no secret
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                self.ep.libHandleEvents(10)
                self._run_commands()
                self._run_deadlines()
        finally:
            self._shutdown()

    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            except pj.Error as exc:
                self._command_failed(exc)

    def _command_failed(self, exc: Any) -> None:
        """A command on a call that has just ended, or one the library refused: logged; the call's
        own state reports the rest."""
        info = getattr(exc, "info", None)
        log.warning("the SIP stack refused a command: %s", info() if callable(info) else exc)

    def _run_deadlines(self) -> None:
        now = time.monotonic()
        for call in list(self._calls.values()):
            if call.ended:
                continue
            if not call.answered and call.ring_deadline is not None and now >= call.ring_deadline:
                call.ring_deadline = None
                self._report(K.NO_ANSWER, call.call_id, "no answer within the maximum ring time; CANCEL sent")
                self._hang_up(call)
            elif call.answered and call.end_deadline is not None and now >= call.end_deadline:
                call.end_deadline = None
                self._hang_up(call)
        due = [item for item in self._later if item[0] <= now]
        if due:
            self._later = [item for item in self._later if item[0] > now]
            for _, fn in due:
                try:
                    fn()
                except pj.Error as exc:
                    self._command_failed(exc)

    def _hang_up_all(self) -> None:
        for call in [*self._calls.values(), *self._legs.values()]:
            if not call.ended:
                try:
                    call.hangup(pj.CallOpParam(True))
                except pj.Error:
                    call.ended = True

    def _shutdown(self) -> None:
        """Hang up what is still up, let the library finish those dialogs, and free every call
        object while the library is alive (pjsua2 aborts on a call object freed after it)."""
        self._hang_up_all()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(c.ended for c in [*self._calls.values(), *self._legs.values()]):
            self.ep.libHandleEvents(20)
        self._closing = True
        self._calls.clear()
        self._legs.clear()
        self._players.clear()
        self._later.clear()
        self._accounts.clear()
        gc.collect()
        with contextlib.suppress(pj.Error):
            self.ep.libDestroy()
        del self.ep  # pjsua2 allows one Endpoint object at a time: the next user agent makes its own
        gc.collect()

    # ------------------------------------------------------------------ commands (worker thread)

    def _account(self, number: str, name: str) -> pj.Account:
        key = f"{name}\x00{number}"
        acc = self._accounts.get(key)
        if acc is None:
            s = self.settings
            cfg = pj.AccountConfig()
            host = s.domain or s.trunk
            shown = name.replace('"', "'")
            cfg.idUri = f'"{shown}" <sip:{number or "dialer"}@{host}>' if shown else f"<sip:{number or 'dialer'}@{host}>"
            cfg.mediaConfig.lockCodecEnabled = False  # no re-INVITE after the answer: trunks and phones differ on them
            cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
            if s.registrar:
                cfg.regConfig.registrarUri = f"sip:{s.registrar}"
                cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", s.username, 0, s.password))
            else:
                cfg.regConfig.registerOnAdd = False
            acc = pj.Account()
            acc.create(cfg)
            self._accounts[key] = acc
        return acc

    def _target(self, number: str) -> str:
        return number if number.startswith(("sip:", "sips:")) else f"sip:{number}@{self.settings.trunk}"

    def _place(self, r: CallRequest) -> None:
        call = _Call(self, self._account(r.caller_id_number, r.caller_id_name), call_id=r.call_id)
        call.ring_deadline = time.monotonic() + r.max_ring_seconds
        call.call_seconds = r.max_call_seconds
        self._calls[r.call_id] = call
        prm = pj.CallOpParam(True)
        if r.caller_id_number:
            pai = pj.SipHeader()
            pai.hName = "P-Asserted-Identity"
            shown = r.caller_id_name.replace('"', "'")
            host = self.settings.domain or self.settings.trunk
            pai.hValue = f'"{shown}" <sip:{r.caller_id_number}@{host}>' if shown else f"<sip:{r.caller_id_number}@{host}>"
            prm.txOption.headers.append(pai)
        try:
            call.makeCall(self._target(r.number), prm)
        except pj.Error as exc:
            call.ended = True
            self._calls.pop(r.call_id, None)
            self._report(K.FAILED, r.call_id, f"the SIP stack refused the call: {exc.info() if hasattr(exc, 'info') else exc}")
        else:  # the dialog's Call-ID: what an auditor matches with the trunk's records
            self.sink.report(CallReport(K.PLACED, datetime.now(UTC), call_id=r.call_id, network_call_id=call.getInfo().callIdString))

    def _open_leg(self, agent_id: str, address: str) -> None:
        old = self._legs.pop(agent_id, None)
        if old is not None and not old.ended:
            self._hang_up(old)
        leg = _Call(self, self._account("dialer", "Dialler"), agent_id=agent_id)
        self._legs[agent_id] = leg
        try:
            leg.makeCall(self._target(address), pj.CallOpParam(True))
        except pj.Error:
            leg.ended = True
            self._legs.pop(agent_id, None)
            self._report(K.AGENT_LEG_ENDED, None, "the SIP stack refused the agent's leg", agent_id=agent_id)

    def _end_leg(self, agent_id: str) -> None:
        leg = self._legs.get(agent_id)
        if leg is not None and not leg.ended:
            self._hang_up(leg)

    def _bridge(self, call_id: UUID, agent_id: str) -> None:
        call = self._calls.get(call_id)
        leg = self._legs.get(agent_id)
        if call is None or call.ended:
            return
        if leg is None or leg.ended or leg.media is None or call.media is None:
            self._hang_up(call)  # no open leg to bridge into: the contact is not left in silence
            return
        call.media.startTransmit(leg.media)
        leg.media.startTransmit(call.media)

    def _play_and_hang_up(self, call_id: UUID) -> None:
        call = self._calls.get(call_id)
        if call is None or call.ended:
            return
        path = self.settings.abandon_wav
        if not path or call.media is None:
            self._hang_up(call)
            return
        player = pj.AudioMediaPlayer()
        player.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(call.media)
        self._players.append(player)
        with wave.open(path, "rb") as w:
            seconds = w.getnframes() / float(w.getframerate())
        self._later.append((time.monotonic() + seconds + 0.2, lambda: self._hang_up(call)))

    def _hold(self, call_id: UUID, agent_id: str, on: bool) -> None:
        call = self._calls.get(call_id)
        if call is None or call.ended:
            return
        leg = self._legs.get(agent_id)
        if on:
            if leg is not None and leg.media is not None and call.media is not None:
                call.media.stopTransmit(leg.media)
                leg.media.stopTransmit(call.media)
            call.setHold(pj.CallOpParam(True))
        else:
            call.resume_to = agent_id  # bridged again when the media is active (``_on_media``)
            prm = pj.CallOpParam(True)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            call.reinvite(prm)

    def _hang_up_call(self, call_id: UUID) -> None:
        call = self._calls.get(call_id)
        if call is not None and not call.ended:
            self._hang_up(call)

    def _hang_up(self, call: _Call) -> None:
        if not call.ended:
            call.hangup(pj.CallOpParam(True))  # CANCEL before an answer, BYE after

    # ------------------------------------------------------------------ the library's callbacks (worker thread)

    def _on_state(self, call: _Call, prm: Any) -> None:
        if self._closing:
            return
        info = call.getInfo()
        state, code = info.state, int(info.lastStatusCode)
        verdict = self._amd_verdict(prm)
        if verdict:
            call.verdict = verdict
        if call.agent_id is not None:
            self._on_leg_state(call, state, code)
            return
        if state == pj.PJSIP_INV_STATE_EARLY and code in (180, 181, 182, 183):
            self._report(K.RINGING, call.call_id, f"{code} {info.lastReason}" + (" (early media)" if code == 183 else ""))
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not call.answered:
            call.answered = True
            call.ring_deadline = None
            call.end_deadline = time.monotonic() + call.call_seconds
            verdict = call.verdict
            kind = K.ANSWERED_MACHINE if verdict in MACHINE_VERDICTS else K.ANSWERED_HUMAN
            self._report(kind, call.call_id, "200 OK" + (f"; {self.settings.amd_header}: {verdict}" if verdict else ""))
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            call.ended = True
            self._later.append((time.monotonic() + 1.0, lambda: self._forget(call)))  # freed outside its own callback
            if call.answered:
                self._report(K.COMPLETED, call.call_id, f"BYE ({code} {info.lastReason})")
            else:
                self._report(_final(code), call.call_id, f"{code} {info.lastReason}")

    def _on_leg_state(self, leg: _Call, state: int, code: int) -> None:
        if state == pj.PJSIP_INV_STATE_CONFIRMED and not leg.answered:
            leg.answered = True
            self._report(K.AGENT_LEG_UP, None, "the agent's phone answered", agent_id=leg.agent_id)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            leg.ended = True
            agent = leg.agent_id
            self._later.append((time.monotonic() + 1.0, lambda: self._drop_leg(agent, leg)))
            self._report(K.AGENT_LEG_ENDED, None, f"the agent's leg ended ({code})", agent_id=agent)

    def _forget(self, call: _Call) -> None:
        if call.call_id is not None and self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
            self._held.pop(call.call_id, None)

    def _drop_leg(self, agent_id: str | None, leg: _Call) -> None:
        if agent_id is not None and self._legs.get(agent_id) is leg:
            del self._legs[agent_id]

    def held(self, call_id: UUID) -> bool | None:
        """Whether the contact's media is on hold as the last offer and answer left it (None: never held)."""
        return self._held.get(call_id)

    def _on_media(self, call: _Call) -> None:
        info = call.getInfo()
        if call.call_id is not None and any(m.status == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD for m in info.media):
            self._held[call.call_id] = True
        elif call.call_id in self._held:
            self._held[call.call_id] = False
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                call.media = call.getAudioMedia(i)
                agent, call.resume_to = call.resume_to, None
                if agent is not None and call.call_id is not None:
                    self._bridge(call.call_id, agent)
                return

    def _amd_verdict(self, prm: Any) -> str:
        """The trunk's machine-detection header on the 200 OK, lower-cased ('' if none)."""
        try:
            event = prm.e
            if event.type != pj.PJSIP_EVENT_TSX_STATE or event.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
                return ""
            message = str(event.body.tsxState.src.rdata.wholeMsg)
        except (AttributeError, pj.Error):
            return ""
        wanted = self.settings.amd_header.lower() + ":"
        for line in message.splitlines():
            if line.lower().startswith(wanted):
                return line.split(":", 1)[1].strip().lower()
        return ""

    def _report(self, kind: ReportKind, call_id: UUID | None, detail: str, agent_id: str | None = None) -> None:
        self.sink.report(CallReport(kind, datetime.now(UTC), call_id=call_id, agent_id=agent_id, detail=f"sip: {detail}"))


def _final(code: int) -> ReportKind:
    if code in BUSY:
        return K.BUSY
    if code in NO_ANSWER:
        return K.NO_ANSWER
    if code in DECLINED:
        return K.REJECTED
    if code in NO_SUCH_NUMBER:
        return K.INVALID_NUMBER
    return K.FAILED
