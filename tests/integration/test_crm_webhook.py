"""The outgoing CRM webhook (R9): every screen pop reaches the CRM signed, a CRM that fails is
retried with backoff, one that refuses is not, and the dialler never waits for it."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import uuid4

from adapters.crm.webhook import CrmSettings, CrmWebhook, signature
from adapters.persistence.eventstore import open_event_store
from adapters.telephony.simulated import WorldParams
from dialer_domain.model.values import ContactData, DialMode
from dialer_domain.service_layer.ports import ScreenPop
from dialer_domain.service_layer.repository import Repository
from entrypoints.demo import DEMO_SKILL, ensure_demo_campaign
from entrypoints.service import LiveService
from tests.conftest import wait_until

SECRET = "crm-test-secret-0123456789"


class Crm(BaseHTTPRequestHandler):
    """A CRM that answers 503 to the first ``failures`` requests, then 204; it keeps what it got."""

    failures = 0
    status = 204
    got: list[tuple[dict, dict, bytes]] = []
    seen = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen += 1
        if type(self).seen <= type(self).failures:
            self.send_response(503)
        else:
            type(self).got.append((dict(self.headers), json.loads(body), body))
            self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def crm(failures: int = 0, status: int = 204) -> ThreadingHTTPServer:
    handler = type("CrmServer", (Crm,), {"failures": failures, "status": status, "got": [], "seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pop() -> ScreenPop:
    return ScreenPop(uuid4(), uuid4(), "c-1", ContactData(name="Ann", variables={"product": "X"}), ("+4520000001",), 0)


def test_a_pop_is_signed_retried_with_backoff_and_a_refusal_is_not_retried():
    server = crm(failures=2)
    hook = CrmWebhook(CrmSettings(url=f"http://127.0.0.1:{server.server_address[1]}/pops", secret=SECRET, first_backoff=0.05))
    started = time.monotonic()
    hook.connected("agent-7", uuid4(), pop())
    assert time.monotonic() - started < 0.05  # the caller never waits for the CRM
    wait_until(lambda: hook.delivered == 1, timeout=30, what="the delivery")
    handler = server.RequestHandlerClass
    assert handler.seen == 3  # two failures, then delivered
    headers, body, raw = handler.got[0]
    assert headers["X-Dialer-Signature"] == signature(SECRET, headers["X-Dialer-Timestamp"], raw)  # the CRM can check the sender
    assert headers["X-Dialer-Signature"] != signature("another-secret", headers["X-Dialer-Timestamp"], raw)
    assert body["type"] == "connected" and body["contact"]["variables"] == {"product": "X"} and body["agent"] == "agent-7"
    server.shutdown()
    hook.close()

    refusing = crm(status=400)
    hook = CrmWebhook(CrmSettings(url=f"http://127.0.0.1:{refusing.server_address[1]}/pops", secret=SECRET, first_backoff=0.05))
    hook.offered("agent-7", uuid4(), pop(), datetime.now(UTC), False)
    wait_until(lambda: hook.failed == 1, timeout=30, what="the refusal")
    assert refusing.RequestHandlerClass.seen == 1  # a 400 is not retried
    refusing.shutdown()
    hook.close()


def test_the_live_service_hands_every_pop_to_the_crm(tmp_path, monkeypatch):
    server = crm()
    monkeypatch.setenv("DIALER_CRM_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/pops")
    monkeypatch.setenv("DIALER_CRM_WEBHOOK_SECRET", SECRET)
    store = open_event_store(f"sqlite:///{tmp_path}/crm.db")
    ensure_demo_campaign(Repository(store), at=datetime.now(UTC), contacts=40, mode=DialMode.POWER)
    world = WorldParams(p_human=0.7, p_machine=0.1, p_busy=0.05, p_unreachable=0.05, talk_mean=20, talk_sd=5, wrap_mean=3, wrap_sd=1)
    service = LiveService(store, speed=40.0, world=world, seed=3)
    service.start()
    service.add_bots(2, (DEMO_SKILL,))
    wait_until(lambda: len(server.RequestHandlerClass.got) >= 3, timeout=120, what="pops at the CRM")
    service.stop()
    got = [(headers, body, raw) for headers, body, raw in server.RequestHandlerClass.got]
    assert {body["type"] for _, body, _ in got} == {"connected"} and all(body["agent"].startswith("bot-") for _, body, _ in got)
    assert all(h["X-Dialer-Signature"] == signature(SECRET, h["X-Dialer-Timestamp"], raw) for h, _, raw in got)
    server.shutdown()
    store.close()
