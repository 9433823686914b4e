"""Callbacks from the outside over HTTP (R12): a supervisor or a CRM books, moves or calls off a
contact's callback, for the agent who owns it or any agent."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dialer_domain.model.errors import InvalidValue
from dialer_domain.service_layer import callbacks
from dialer_domain.service_layer.handlers import campaign_named
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import Store
from entrypoints.auth import Staff, who


class CallbackIn(BaseModel):
    at: datetime = Field(description="When to call back, with its time zone (e.g. 2026-11-24T10:30:00+01:00).")
    agent: str | None = Field(None, max_length=200, description="Only this agent takes it (a personal callback); none: any agent.")


def callback_router() -> APIRouter:
    router = APIRouter(tags=["callbacks"])

    @router.put("/campaigns/{campaign}/callbacks/{key:path}")
    def book(campaign: str, key: str, body: CallbackIn, s: Store, caller: Staff) -> dict[str, Any]:
        """Book the contact's callback, or move the one it has. A time outside the campaign's hours is
        refused with the next opening (422), or moved there with a warning, as the campaign's
        ``callback_outside_hours`` says; a contact in a call or withdrawn: 409."""
        if body.at.tzinfo is None:
            raise InvalidValue(f"callback time {body.at.isoformat()} needs a time zone (e.g. +01:00 or Z)")
        repo = Repository(s)
        c = campaign_named(repo, campaign)
        done = callbacks.book_callback(repo, c, key, body.at, agent_id=body.agent, by=who(caller), now=bootstrap.WallClock().now())
        return {
            "key": done.contact.key,
            "state": done.contact.state.value,
            "callback_at": done.callback_at.isoformat(),
            "agent": body.agent,
            "moved": done.moved,
            "warning": done.warning or None,
        }

    @router.delete("/campaigns/{campaign}/callbacks/{key:path}")
    def cancel(
        campaign: str,
        key: str,
        s: Store,
        caller: Staff,
        close: Annotated[bool, Query(description="Finish the contact too (else it is back in the list, due at once).")] = False,
        reason: Annotated[str, Query(max_length=2000)] = "cancelled through the API",
    ) -> dict[str, Any]:
        """Call off the contact's callback (409 when it has none booked)."""
        repo = Repository(s)
        c = campaign_named(repo, campaign)
        contact = callbacks.cancel_callback(repo, c, key, by=who(caller), reason=reason, close=close, now=bootstrap.WallClock().now())
        return {"key": contact.key, "state": contact.state.value, "callback_at": None}

    return router
