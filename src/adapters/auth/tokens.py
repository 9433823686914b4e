"""Bearer tokens with roles (agent, supervisor, admin), kept hashed in the store's database.

A token reads ``dlr_<id>_<secret>``: the id finds the row, the secret is checked against its
SHA-256 (a token is 256 random bits, so a fast hash is enough and a lookup costs one query).
The secret is shown once, when the token is made, and never stored, logged or echoed.
On the memory store the tokens live as long as the store does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

import attrs

from adapters.persistence.schema import schema_lock
from dialer_domain.model.text import check_agent_id

ROLES = ("agent", "supervisor", "admin")


@attrs.frozen
class Principal:
    """Who made a request: their role, and for an agent the agent id they act as."""

    token_id: str
    role: str
    agent: str | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _parse(token: str) -> tuple[str, str] | None:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != "dlr" or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1], parts[2]


class TokenStore:
    """Tokens in a table of the store's own database (SQLite or PostgreSQL), or in memory."""

    def __init__(self, datastore: Any | None) -> None:
        self.datastore = datastore
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._postgres = datastore is not None and type(datastore).__module__.startswith("eventsourcing.postgres")
        if datastore is not None:
            with schema_lock(datastore), datastore.transaction(commit=True) as curs:
                curs.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._table} (id TEXT PRIMARY KEY, role TEXT NOT NULL, agent TEXT, "
                    "digest TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"
                )

    @property
    def _table(self) -> str:
        schema = getattr(self.datastore, "schema", "") if self._postgres else ""
        return f"{schema}.dialer_tokens" if schema else "dialer_tokens"

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._postgres else statement

    def create(self, role: str, agent: str | None = None) -> tuple[str, str]:
        """A new token: (its id, the token itself, to hand over once)."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role == "agent" and not agent:
            raise ValueError("an agent's token names the agent (--agent)")
        if agent is not None:
            check_agent_id(agent)
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32).replace("_", "-")
        row = {"id": token_id, "role": role, "agent": agent if role == "agent" else None, "digest": _digest(secret)}
        created = datetime.now(UTC).isoformat()
        if self.datastore is None:
            with self._lock:
                self._memory[token_id] = {**row, "created_at": created, "revoked_at": None}
        else:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(
                    self._sql(f"INSERT INTO {self._table} (id, role, agent, digest, created_at) VALUES (?, ?, ?, ?, ?)"),
                    (token_id, row["role"], row["agent"], row["digest"], created),
                )
        return token_id, f"dlr_{token_id}_{secret}"

    def verify(self, token: str) -> Principal | None:
        parsed = _parse(token)
        if parsed is None:
            return None
        token_id, secret = parsed
        row = self._row(token_id)
        if row is None or row["revoked_at"] is not None or not hmac.compare_digest(row["digest"], _digest(secret)):
            return None
        return Principal(token_id, row["role"], row["agent"])

    def revoke(self, token_id: str) -> bool:
        when = datetime.now(UTC).isoformat()
        if self.datastore is None:
            with self._lock:
                row = self._memory.get(token_id)
                if row is None or row["revoked_at"] is not None:
                    return False
                row["revoked_at"] = when
                return True
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._sql(f"SELECT revoked_at FROM {self._table} WHERE id = ?"), (token_id,))
            row = curs.fetchone()
            if row is None or row["revoked_at"] is not None:
                return False
            curs.execute(self._sql(f"UPDATE {self._table} SET revoked_at = ? WHERE id = ?"), (when, token_id))
            return True

    def all(self) -> list[dict[str, Any]]:
        """Every token without its digest: id, role, agent, created, revoked."""
        if self.datastore is None:
            with self._lock:
                rows = [dict(r) for r in self._memory.values()]
        else:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(f"SELECT id, role, agent, created_at, revoked_at FROM {self._table} ORDER BY created_at")
                rows = [dict(r) for r in curs.fetchall()]
        return [{k: r[k] for k in ("id", "role", "agent", "created_at", "revoked_at")} for r in rows]

    def _row(self, token_id: str) -> dict[str, Any] | None:
        if self.datastore is None:
            with self._lock:
                found = self._memory.get(token_id)
                return dict(found) if found else None
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._sql(f"SELECT role, agent, digest, revoked_at FROM {self._table} WHERE id = ?"), (token_id,))
            r = curs.fetchone()
            return dict(r) if r is not None else None
