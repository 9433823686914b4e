"""The HTTP API as a real server process (uvicorn) on PostgreSQL under concurrent requests: no 500,
one pool per process (the connections it holds do not grow with the requests), every write
either stored or refused with a clear 4xx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from adapters.persistence.eventstore import open_event_store
from dialer_domain.model.values import CampaignSettings, DialMode
from dialer_domain.service_layer.handlers import CampaignSpec, create_campaign
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from tests.conftest import _psycopg_url, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(pg_url):
    s = open_event_store(pg_url)
    create_campaign(
        Repository(s),
        CampaignSpec(name="Sales", manager="ann", dial_mode=DialMode.POWER),
        settings=CampaignSettings(skill="sales", max_per_click=1, max_held=1000),
        hours=None,
        at=datetime.now(UTC),
    )
    token = bootstrap.tokens(s).create("admin")[1]
    s.close()
    port = free_port()
    baseline = connections(pg_url)  # other tests' pools in this process stay as they are
    env = {**os.environ, "DIALER_DATABASE_URL": pg_url, "PYTHONPATH": "src"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "entrypoints.api:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
        try:
            return httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=60, what="the API server to start")
    yield base, proc, baseline, token
    proc.terminate()
    proc.wait(30)


def connections(pg_url: str) -> int:
    with psycopg.connect(_psycopg_url(pg_url), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
        return int(row[0]) if row else 0


def test_concurrent_requests_get_no_500_and_the_server_holds_one_pool(server, pg_url):
    base, proc, before, token = server
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    peak = [0]

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as c:
            for i in range(50):
                key = f"c{n}-{i % 10}"
                match i % 5:
                    case 0:
                        r = c.post("/campaigns/Sales/contacts", json={"key": key, "numbers": ["20123456"], "name": f"N{n}"})
                    case 1:
                        r = c.put(f"/campaigns/Sales/contacts/c{(n + 1) % 8}-{i % 10}", json={"name": f"edit {n} {i}"})
                    case 2:
                        r = c.get(f"/campaigns/Sales/contacts/{key}")
                    case 3:
                        r = c.post(f"/campaigns/Sales/agents/a{n}/obtain")
                    case _:
                        r = c.get("/campaigns/Sales/imports")
                with lock:
                    statuses[r.status_code] += 1
            with lock:
                peak[0] = max(peak[0], connections(pg_url))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert sum(statuses.values()) == 400
    assert not [code for code in statuses if code >= 500], statuses
    assert set(statuses) <= {200, 201, 404, 409, 422}, statuses
    # one store pool (5 + 10) and the queue view's (5 + 10) at most, whatever the number of requests
    assert peak[0] - before <= 30 + 2, (before, peak)
    assert proc.poll() is None
