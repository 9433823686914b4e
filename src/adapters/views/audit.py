"""Audit replay (R20): every event of a contact, campaign or agent in order, with its time and
cause (for a dial: the pacing decision that led to it), and the state as it was at any moment.

A Python API for teams that embed the core; ``dialer audit`` prints the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from adapters.persistence.codec import make_event_converter
from dialer_domain.model.agent import AgentSession
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import NotFound
from dialer_domain.model.events import AgentLoggedIn, ContactAssigned, ContactImported, DialAttempted, DomainEvent, PacingDecided
from dialer_domain.model.identities import contact_id_for, pacing_log_id_for
from dialer_domain.service_layer.ports import EventStore
from dialer_domain.service_layer.repository import iter_log

_conv = make_event_converter()
_CAUSE_FIELDS = ("reason", "changed_by", "by", "scheduled_by", "assigned_by", "source")


@attrs.frozen
class AuditEntry:
    at: datetime
    event: str
    stream: UUID
    version: int
    cause: str
    data: dict[str, Any]


@attrs.frozen
class AuditTrail:
    subject: str
    entries: tuple[AuditEntry, ...]
    state: dict[str, Any]


def _cause(e: DomainEvent, decisions: dict[UUID, PacingDecided]) -> str:
    if isinstance(e, DialAttempted):
        d = decisions.get(e.decision_id) if e.decision_id else None
        checks = ", ".join(e.checks)
        return f"pacing decision {e.decision_id}: {d.reason}; checks passed: {checks}" if d else f"checks passed: {checks}"
    if isinstance(e, PacingDecided):
        return e.reason
    for f in _CAUSE_FIELDS:
        v = getattr(e, f, None)
        if v:
            return f"{f}: {v}"
    return ""


def _entry(e: DomainEvent, decisions: dict[UUID, PacingDecided]) -> AuditEntry:
    data = _conv.unstructure(e)
    for k in ("originator_id", "originator_version", "timestamp"):
        data.pop(k, None)
    return AuditEntry(e.timestamp, e.NAME, e.originator_id, e.originator_version, _cause(e, decisions), data)


def _decisions(store: EventStore, dials: list[DialAttempted]) -> dict[UUID, PacingDecided]:
    wanted = {d.decision_id for d in dials if d.decision_id}
    found: dict[UUID, PacingDecided] = {}
    days = {(d.campaign_id, (d.timestamp + timedelta(days=k)).date()) for d in dials if d.decision_id for k in (-1, 0, 1)}
    for campaign_id, day in days:
        for e in store.load(pacing_log_id_for(campaign_id, day.isoformat())):
            if isinstance(e, PacingDecided) and e.decision_id in wanted:
                found[e.decision_id] = e
    return found


def _state(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = _conv.unstructure(obj)
    out.pop("_pending", None)
    return out


def contact_trail(store: EventStore, contact_id: UUID, *, as_of: datetime | None = None) -> AuditTrail:
    events = [e for e in store.load(contact_id) if as_of is None or e.timestamp <= as_of]
    if not events:
        raise NotFound(f"no contact with id {contact_id}" + (f" before {as_of.isoformat()}" if as_of else ""))
    dials = [e for e in events if isinstance(e, DialAttempted)]
    decisions = _decisions(store, dials)
    merged: list[DomainEvent] = sorted([*events, *decisions.values()], key=lambda e: (e.timestamp, not isinstance(e, PacingDecided)))
    state = ContactAttempt.replay(contact_id, events)
    return AuditTrail(f"contact {state.key}", tuple(_entry(e, decisions) for e in merged), _state(state))


def _campaign_id(store: EventStore, name: str) -> UUID:
    """The campaign that bears ``name`` now (renamed or not)."""
    from dialer_domain.service_layer.handlers import campaign_named
    from dialer_domain.service_layer.repository import Repository

    return campaign_named(Repository(store), name).id


def contact_trail_by_key(store: EventStore, campaign: str, key: str, *, as_of: datetime | None = None) -> AuditTrail:
    cid = _campaign_id(store, campaign)
    try:
        return contact_trail(store, contact_id_for(cid, key), as_of=as_of)
    except NotFound:
        raise NotFound(f"campaign {campaign!r} has no contact {key!r}" + (f" before {as_of.isoformat()}" if as_of else "")) from None


def campaign_trail(store: EventStore, name: str, *, as_of: datetime | None = None, with_contacts: bool = True, limit: int = 0) -> AuditTrail:
    """The campaign's own events, its pacing decisions and (by default) its contacts' events; with
    ``limit``, the first that many, read no further than needed."""
    cid = _campaign_id(store, name)
    own = [e for e in store.load(cid) if as_of is None or e.timestamp <= as_of]
    if not own:
        raise NotFound(f"no campaign named {name!r}")
    contacts: set[UUID] = set()
    out: list[DomainEvent] = []
    decisions: dict[UUID, PacingDecided] = {}
    for r in iter_log(store):
        e = r.event
        if isinstance(e, ContactImported) and e.campaign_id == cid:
            contacts.add(e.originator_id)
        if as_of is not None and e.timestamp > as_of:
            continue
        if isinstance(e, PacingDecided) and e.campaign_id == cid:
            decisions[e.decision_id] = e
            out.append(e)
        elif e.originator_id == cid or (with_contacts and e.originator_id in contacts):
            out.append(e)
        if limit and len(out) >= limit:
            break
    state = Campaign.replay(cid, own)
    return AuditTrail(f"campaign {name}", tuple(_entry(e, decisions) for e in out), _state(state))


def agent_trail(store: EventStore, agent_id: str, *, as_of: datetime | None = None) -> AuditTrail:
    """Every session of one agent and every contact assigned to (or taken from) them, in time
    order; the state of the latest session (none for an agent who never logged in)."""
    sessions: list[UUID] = []
    events: list[DomainEvent] = []
    for r in iter_log(store, topics=(AgentLoggedIn.NAME, ContactAssigned.NAME, ContactImported.NAME)):
        e = r.event
        if isinstance(e, AgentLoggedIn):
            if e.agent_id == agent_id and e.originator_id not in sessions:
                sessions.append(e.originator_id)
        elif as_of is not None and e.timestamp > as_of:
            continue
        elif isinstance(e, ContactImported):
            if e.assigned_agent == agent_id:
                events.append(e)
        elif isinstance(e, ContactAssigned) and (e.agent_id == agent_id or _previous_holder(store, e) == agent_id):
            events.append(e)
    last: list[DomainEvent] = []
    for sid in sessions:
        evs = [e for e in store.load(sid) if as_of is None or e.timestamp <= as_of]
        events.extend(evs)
        if evs:
            last = evs
    if not events:
        raise NotFound(f"no agent {agent_id!r}: never logged in and never assigned a contact" + (f" before {as_of.isoformat()}" if as_of else ""))
    events.sort(key=lambda e: e.timestamp)
    state = _state(AgentSession.replay(last[0].originator_id, last)) if last else {"agent_id": agent_id, "state": "never logged in"}
    return AuditTrail(f"agent {agent_id}", tuple(_entry(e, {}) for e in events), state)


def _previous_holder(store: EventStore, e: ContactAssigned) -> str | None:
    """Who held the contact before this assignment (an unassignment names no agent)."""
    if e.agent_id is not None or e.originator_version == 1:
        return None
    before = ContactAttempt.replay(e.originator_id, store.load(e.originator_id, up_to_version=e.originator_version - 1))
    return before.assigned_agent
