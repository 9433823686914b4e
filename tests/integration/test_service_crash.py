"""`dialer serve` killed with SIGKILL at 20 random moments of a real-time run on the simulated
world (50 times faster than the wall clock, three simulated agents), restarted each time, then
stopped gracefully. Over the whole log afterwards: every call that started has exactly one end,
no contact was dialled again while a call of its was in progress, no contact is left offered,
dialling or connected, and the engine's queue view holds the whole log as its fold."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx

from adapters.persistence.eventstore import open_event_store
from adapters.views import statistics as projections
from adapters.views.queue import QUEUE_TOPICS
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.events import CallEnded, ContactImported, DialAttempted
from dialer_domain.service_layer.repository import Repository
from tests.conftest import wait_until
from tests.integration.test_queue_view import memory_entries, view_entries
from tests.integration.twilio_mock import free_port

KILLS = 20


def _events(url: str) -> int:
    store = open_event_store(url)
    try:
        return store.max_position()
    finally:
        store.close()


def _serve(url: str, port: int, workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "DIALER_DATABASE_URL": url}
    env.pop("DIALER_TELEPHONY", None)
    cmd = [sys.executable, "-m", "entrypoints.cli", "serve", "--demo", "--bots", "3", "--speed", "50", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "the service died"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=120, what="the service to answer")
    return proc


def test_sigkill_at_random_moments_leaves_every_call_ended_and_no_contact_stuck(tmp_path):
    url = f"sqlite:///{tmp_path}/crash.db"
    rng = random.Random(20261123)
    for _ in range(KILLS):
        proc = _serve(url, free_port(), tmp_path)
        before = _events(url)
        grow = rng.randint(1, 120)  # a random moment: after this many more events
        wait_until(lambda b=before, g=grow: _events(url) >= b + g, timeout=120, what="the run to go on")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    proc = _serve(url, free_port(), tmp_path)  # the last start settles what the last kill left
    before = _events(url)
    wait_until(lambda: _events(url) >= before + 50, timeout=120, what="the last run")
    proc.send_signal(signal.SIGTERM)  # a graceful stop: no new dials, calls in progress end
    assert proc.wait(120) == 0

    store = open_event_store(url)
    log = [r.event for r in store.read(0, 10**7)]
    started = defaultdict(int)
    ended = defaultdict(int)
    open_call: dict = {}
    for e in log:
        if isinstance(e, DialAttempted):
            started[e.call_id] += 1
            assert e.originator_id not in open_call, f"contact {e.originator_id} dialled while call {open_call.get(e.originator_id)} was on"
            open_call[e.originator_id] = e.call_id
        elif isinstance(e, CallEnded):
            ended[e.call_id] += 1
            assert open_call.pop(e.originator_id, None) == e.call_id
    assert len(started) > 50 and started == ended and set(started.values()) == {1}
    settled = [e for e in log if isinstance(e, CallEnded) and "restarted" in e.reason]
    assert settled, "no kill left a call in progress: the test did not exercise recovery"
    repo = Repository(store)
    stuck = [
        c.key
        for c in (repo.get(ContactAttempt, e.originator_id) for e in log if isinstance(e, ContactImported))
        if c.state.value in ("offered", "dialling", "connected")
    ]
    assert stuck == []
    # the engine's queue view, written in pages of many commits (ADR 0040), lost its unwritten
    # pages at each kill and was caught up at each start; after the graceful stop it holds the
    # whole log, as its fold
    view = projections.open_view(url, "queue")
    assert view.gen_position(view.live_generation()) == store.read(0, 10**7, topics=QUEUE_TOPICS)[-1].position
    assert view_entries(view) == memory_entries(store)[1]
    store.close()
