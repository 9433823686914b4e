"""Bearer tokens: kept hashed in the store's database (memory, SQLite, PostgreSQL), shown once,
revocable; the CLI makes and lists them without ever printing a digest or a token twice."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from adapters.persistence.eventstore import open_event_store
from entrypoints import bootstrap
from entrypoints.cli import app


def test_a_token_verifies_until_revoked_and_nothing_but_its_digest_is_kept(store_url):
    store = open_event_store(store_url)
    tokens = bootstrap.tokens(store)
    token_id, token = tokens.create("agent", "agent-7")
    p = tokens.verify(token)
    assert p is not None and (p.token_id, p.role, p.agent) == (token_id, "agent", "agent-7")
    secret = token.split("_")[2]
    assert tokens.verify(token[:-1] + ("x" if token[-1] != "x" else "y")) is None  # a wrong secret
    assert tokens.verify(f"dlr_{'0' * 12}_{secret}") is None and tokens.verify("not-a-token") is None
    listed = tokens.all()
    assert [t["id"] for t in listed] == [token_id] and secret not in repr(listed) and "digest" not in listed[0]
    if store_url != "memory:":  # what the table holds
        with store.recorder.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT * FROM {tokens._table}")
            assert secret not in repr([dict(r) for r in curs.fetchall()])
    assert tokens.revoke(token_id) and tokens.verify(token) is None and not tokens.revoke(token_id)
    with pytest.raises(ValueError, match="role"):
        tokens.create("root")
    with pytest.raises(ValueError, match="names the agent"):
        tokens.create("agent")
    store.close()


def test_the_cli_makes_lists_and_revokes_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALER_DATABASE_URL", f"sqlite:///{tmp_path}/t.db")
    runner = CliRunner()
    made = runner.invoke(app, ["tokens", "create", "--role", "supervisor"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("dlr_")
    listed = runner.invoke(app, ["tokens", "list"])
    token_id = token.split("_")[1]
    assert token_id in listed.output and token.split("_")[2] not in listed.output
    assert runner.invoke(app, ["tokens", "revoke", token_id]).exit_code == 0
    again = runner.invoke(app, ["tokens", "revoke", token_id])
    assert again.exit_code != 0 and "no live token" in again.output
    bad = runner.invoke(app, ["tokens", "create", "--role", "agent"])
    assert bad.exit_code != 0 and "names the agent" in bad.output
