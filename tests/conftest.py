"""Shared fixtures. PostgreSQL: DIALER_TEST_DATABASE_URL if set, else a server on 127.0.0.1:5432 if
one answers, else a throwaway server started here (the pgserver wheel). Never skipped."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"


def wait_until(condition, timeout: float = 120.0, what: str = "condition", every: float = 0.05) -> None:
    """Wait on a condition with a deadline (never a fixed sleep: the machine may be loaded)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def _server_url() -> tuple[str, object | None]:
    url = os.environ.get("DIALER_TEST_DATABASE_URL")
    if url:
        return url, None
    try:
        with psycopg.connect(LOCAL_URL, connect_timeout=3):
            return LOCAL_URL, None
    except psycopg.OperationalError:
        pass
    import pgserver  # the throwaway server

    server = pgserver.get_server(tempfile.mkdtemp(prefix="dialer-pg-"), cleanup_mode="stop")
    return server.get_uri(), server


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url, server = _server_url()
    yield url
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


def _psycopg_url(url: str) -> str:
    """The conninfo psycopg takes for a URL that may carry our ?schema= parameter."""
    from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

    p = urlparse(url)
    q = {k: v[-1] for k, v in parse_qs(p.query).items() if k != "schema"}
    return urlunparse(p._replace(query=urlencode(q)))


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards."""
    schema = f"dialer_test_{uuid.uuid4().hex[:12]}"
    conninfo = _psycopg_url(pg_server_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_server_url else "?"
    yield f"{pg_server_url}{sep}schema={schema}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "memory":
        return "memory:"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def t0() -> datetime:
    return datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
