"""Every operation of the served API, read from its own OpenAPI schema: without a token 401; with
a revoked token 401; with an agent's token, 403 on every route that is not that agent's own
(another agent's session, campaigns, lists, assignment, the supervisors' views). Twilio's
webhooks are the exception: they carry Twilio's signature instead (tested with Prism)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from adapters.persistence.eventstore import open_event_store
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import create_app
from entrypoints.demo import ensure_demo_campaign
from entrypoints.service import LiveService


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = open_event_store(f"sqlite:///{tmp_path_factory.mktemp('roles')}/roles.db")
    ensure_demo_campaign(Repository(store), at=datetime.now(UTC), contacts=5)
    service = LiveService(store, speed=1.0, seed=1)
    app = create_app(service=service)
    tokens = bootstrap.tokens(store)
    revoked_id, revoked = tokens.create("admin")
    tokens.revoke(revoked_id)
    agent = tokens.create("agent", "a1")[1]
    with TestClient(app) as client:
        yield client, app, agent, revoked
    store.close()


def _operations(app) -> list[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in sorted(paths.items()) for method in item if not path.startswith("/twilio/")]


def _fill(path: str, agent: str) -> str:
    path = path.replace("{agent}", agent).replace("{campaign}", "Demo").replace("{key}", "demo-00001")
    return re.sub(r"\{[a-z_]+(:path)?\}", "00000000-0000-0000-0000-000000000000", path)


def test_every_operation_needs_a_valid_token_and_an_agent_stays_in_their_own_session(served):
    client, app, agent, revoked = served
    operations = _operations(app)
    assert len(operations) >= 25
    own = []
    for method, path in operations:
        if path.endswith("/events"):
            continue  # a stream: its refusals are tested in test_live_service
        for headers in ({}, {"Authorization": f"Bearer {revoked}"}, {"Authorization": "Basic YTpi"}):
            r = client.request(method, _fill(path, "a1"), headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
            assert r.headers.get("www-authenticate") == "Bearer" and "token" in r.json()["detail"]
        r = client.request(method, _fill(path, "someone-else"), headers={"Authorization": f"Bearer {agent}"})
        if "{agent}" in path:
            assert r.status_code == 403, (method, path, r.status_code)  # not their session
            own.append(path)
        else:
            assert r.status_code == 403, (method, path, r.status_code)  # staff only
    assert any(p.endswith("/login") for p in own) and any(p.endswith("/obtain") for p in own)
