"""Schemathesis against the served OpenAPI schema of the whole service (campaigns, contacts, list
uploads, assignment, agents' and supervisors' routes, with a live dialler on simulated telephony):
random and malformed requests, with an administrator's token, find no 5xx. (The agents' event
stream never ends, so it is left out; the live-service tests read it.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from adapters.persistence.eventstore import open_event_store
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import create_app
from entrypoints.demo import ensure_demo_campaign
from entrypoints.service import LiveService


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    store = open_event_store(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.db")
    ensure_demo_campaign(Repository(store), at=datetime.now(UTC), contacts=30)
    service = LiveService(store, speed=10.0, seed=9)
    service.start()
    app = create_app(service=service)
    token = bootstrap.tokens(store).create("admin")[1]
    yield app, {"Authorization": f"Bearer {token}"}
    service.stop(drain_seconds=30)
    store.close()


schema = schemathesis.pytest.from_fixture("fuzz_schema").exclude(path_regex=r".*/events$").exclude(path_regex=r"^/twilio/")


@pytest.fixture(scope="module")
def fuzz_schema(served):
    app, _ = served
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case, served):
    _, auth = served
    response = case.call(headers=auth)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
