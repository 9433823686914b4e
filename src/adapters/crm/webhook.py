"""The screen pop to an external CRM (R9): an optional outgoing webhook.

Each offer and connection is POSTed as JSON to ``DIALER_CRM_WEBHOOK_URL``, signed with
HMAC-SHA256 over ``<timestamp>.<body>`` using ``DIALER_CRM_WEBHOOK_SECRET`` (headers
``X-Dialer-Timestamp`` and ``X-Dialer-Signature: sha256=<hex>``), so that the CRM can check who
sent it and refuse replays. A delivery that fails (no answer, 429, 5xx) is retried with
exponential backoff; a 4xx other than 408 and 429 is not retried (the CRM refused it). The dialler
only puts the pop in a bounded queue: it never waits for the CRM, and when the CRM falls too far
behind the oldest pops are dropped and counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import attrs
import requests

from dialer_domain.service_layer.ports import ScreenPop

log = logging.getLogger(__name__)
RETRIED = frozenset({408, 429})


@attrs.frozen
class CrmSettings:
    url: str
    secret: str = attrs.field(repr=False)
    attempts: int = 6
    first_backoff: float = 0.5
    timeout: float = 5.0
    queue_size: int = 10_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> CrmSettings | None:
        url = env.get("DIALER_CRM_WEBHOOK_URL", "")
        if not url:
            return None
        secret = env.get("DIALER_CRM_WEBHOOK_SECRET", "")
        if not secret:
            raise ValueError("DIALER_CRM_WEBHOOK_URL needs DIALER_CRM_WEBHOOK_SECRET to sign what it sends")
        return cls(url=url, secret=secret)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What ``X-Dialer-Signature`` carries: ``sha256=`` and the HMAC of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class CrmWebhook:
    """An AgentDesktop that hands every screen pop to the CRM, on its own thread."""

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=settings.queue_size)
        self._stop = threading.Event()
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="crm-webhook", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the desktop port (never blocks)

    def offered(self, agent_id: str, offer_id: UUID, pop: ScreenPop, expires_at: Any, auto_answer: bool) -> None:
        self._put({"type": "offer", "agent": agent_id, "offer_id": str(offer_id), "contact": pop.as_dict()})

    def connected(self, agent_id: str, call_id: UUID, pop: ScreenPop) -> None:
        self._put({"type": "connected", "agent": agent_id, "call_id": str(call_id), "contact": pop.as_dict()})

    def wrapup_started(self, agent_id: str, call_id: UUID, until: Any) -> None:
        pass

    def _put(self, event: dict[str, Any]) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the CRM is far behind: the oldest pop goes
                    self.dropped += 1
                except queue.Empty:
                    pass

    def close(self, wait: float = 10.0) -> None:
        """Deliver what is queued (for up to ``wait`` seconds), then stop."""
        deadline = time.monotonic() + wait
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._thread.join(wait)
        self._session.close()

    # ------------------------------------------------------------------ the sender's thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self._deliver(event)

    def _deliver(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        backoff = self.settings.first_backoff
        for attempt in range(1, self.settings.attempts + 1):
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Dialer-Timestamp": stamp,
                "X-Dialer-Signature": signature(self.settings.secret, stamp, body),
            }
            try:
                status = self._session.post(self.settings.url, data=body, headers=headers, timeout=self.settings.timeout).status_code
            except requests.RequestException as exc:
                status, why = 0, type(exc).__name__
            else:
                why = f"HTTP {status}"
            if 200 <= status < 300:
                self.delivered += 1
                return
            if 400 <= status < 500 and status not in RETRIED:
                break  # the CRM refused it: a retry would be refused too
            if attempt == self.settings.attempts or self._stop.wait(backoff):
                break
            backoff *= 2
        self.failed += 1
        log.warning("the CRM did not take a %s pop after %d attempt(s): %s", event["type"], attempt, why)

