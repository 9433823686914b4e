"""`dialer audit`: replay the recorded history of a contact, campaign or agent (R20)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer
from rich.table import Table

from entrypoints.cli.common import _open, audit_app, console

if TYPE_CHECKING:
    from adapters.views.audit import AuditTrail


def _print_trail(trail: AuditTrail, as_json: bool, limit: int = 0) -> None:
    entries = trail.entries[:limit] if limit else trail.entries
    if as_json:
        rows = [
            {
                "at": e.at.isoformat(),
                "event": e.event,
                "stream": str(e.stream),
                "version": e.version,
                "cause": e.cause,
                "data": e.data,
            }
            for e in entries
        ]
        print(json.dumps({"subject": trail.subject, "state": trail.state, "events": rows}, indent=2, default=str))
        return
    table = Table(title=f"{trail.subject}: {len(trail.entries)} events")
    table.add_column("at (UTC)")
    table.add_column("event")
    table.add_column("cause", overflow="fold")
    table.add_column("details", overflow="fold")
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "", [], {}) and k not in _CAUSE_KEYS)
        table.add_row(e.at.isoformat()[:23], e.event, e.cause, details)
    console.print(table)
    state = {k: v for k, v in trail.state.items() if k in _STATE_KEYS}
    console.print(f"state then: {json.dumps(state, default=str)}")


_CAUSE_KEYS = {"reason", "changed_by", "by", "scheduled_by", "assigned_by", "source", "checks", "estimates"}
_STATE_KEYS = {
    "key",
    "name",
    "agent_id",
    "state",
    "status",
    "attempts",
    "priority",
    "dial_mode",
    "disposition",
    "callback_at",
    "version",
}


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("--as-of needs a time zone, e.g. 2026-11-23T10:00:00+00:00")
    return t


AsOf = Annotated[str | None, typer.Option(help="The history and state as they were at this time (ISO 8601 with zone).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@audit_app.command("contact")
def audit_contact(ref: Annotated[str, typer.Argument(help="CAMPAIGN/KEY or the contact's id.")], as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Every event of one contact in order, with the pacing decision behind each dial."""
    from adapters.views import audit

    with _open() as (_, store):
        if "/" in ref:
            campaign, _, key = ref.partition("/")
            trail = audit.contact_trail_by_key(store, campaign, key, as_of=_as_of(as_of))
        else:
            trail = audit.contact_trail(store, UUID(ref), as_of=_as_of(as_of))
    _print_trail(trail, as_json)


@audit_app.command("campaign")
def audit_campaign(
    name: str,
    as_of: AsOf = None,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(help="At most this many events (0: all).")] = 0,
) -> None:
    """The campaign's events, its pacing decisions and its contacts' events, in log order."""
    from adapters.views import audit

    with _open() as (_, store):
        trail = audit.campaign_trail(store, name, as_of=_as_of(as_of), limit=limit)
    _print_trail(trail, as_json, limit)


@audit_app.command("agent")
def audit_agent(agent_id: str, as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Every session of one agent: logins, offers, calls, wrap-ups, pauses."""
    from adapters.views import audit

    with _open() as (_, store):
        trail = audit.agent_trail(store, agent_id, as_of=_as_of(as_of))
    _print_trail(trail, as_json)
