"""How the entrypoints show the model: one plain, JSON-ready form per thing, for the CLI and the API."""

from __future__ import annotations

from typing import Any

from adapters.persistence.eventstore import make_event_converter
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
        "version": c.version,
    }
