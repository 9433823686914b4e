"""How the entrypoints show the model: one plain, JSON-ready form per thing, for the CLI and the API."""

from __future__ import annotations

from typing import Any

from adapters.persistence.codec import make_event_converter
from dialer_domain.model.campaign import Campaign

_conv = make_event_converter()


def campaign_view(c: Campaign) -> dict[str, Any]:
    """A campaign: its names, status, settings, hours and call guide."""
    return {
        "id": str(c.id),
        "name": c.name,
        "description": c.description,
        "manager": c.manager,
        "priority": c.priority,
        "dial_mode": c.dial_mode.value,
        "status": c.status.value,
        "settings": _conv.unstructure(c.config),
        "hours": _conv.unstructure(c.hours) if c.hours else None,
        "call_guide": [q.as_dict() for q in c.call_guide],
        "selection": {"filters": dict(c.selection.filters), "active": c.selection.active, "sort": list(c.selection.sort)},
        "version": c.version,
    }


def list_view(c: Campaign, selected: int, left_out: int) -> dict[str, Any]:
    """R10: how much of the campaign's list (new and pending contacts) its active filter selects, and
    a warning when it selects none of a list that has contacts: the campaign would dial nothing."""
    warning = None
    if c.selection.active is not None and selected == 0 and left_out > 0:
        warning = f"the filter {c.selection.active!r} matches none of the {left_out} contacts in the list: nothing will be dialled"
    return {"filter": c.selection.active, "selected": selected, "left_out": left_out, "warning": warning}
