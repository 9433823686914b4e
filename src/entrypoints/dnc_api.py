"""Do-not-call lists over HTTP (supervisors and administrators; issue 16, ADR 0015): the lists,
numbers added and removed (each change kept with who and why), and whether a campaign may call a
number. A registry file is loaded with `dialer dnc import` (streamed, replaced at once)."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from adapters.lists.dnc import EVERY_CAMPAIGN, check_number
from dialer_domain.service_layer.handlers import campaign_named
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import Store
from entrypoints.auth import Staff, who


class NumbersIn(BaseModel):
    numbers: list[str] = Field(min_length=1, max_length=10_000, description="E.164 numbers.")
    reason: str = Field("", max_length=500, description="Why (kept with the change).")
    campaign: str | None = Field(None, description="Add: the list is this campaign's own (made on first use); default: every campaign.")


def dnc_router() -> APIRouter:
    router = APIRouter(prefix="/dnc", tags=["do-not-call"])

    @router.get("")
    def lists(s: Store, _: Staff) -> list[dict[str, Any]]:
        """Every list: its scope, revision, size, source, and who changed it last."""
        return [m.as_dict() for m in bootstrap.do_not_call(s).lists()]

    @router.post("/{list_name}/numbers")
    def add(list_name: str, body: NumbersIn, s: Store, caller: Staff) -> dict[str, Any]:
        """Add numbers (never dialled from the next dial on, even for contacts already queued)."""
        scope = EVERY_CAMPAIGN if body.campaign is None else str(campaign_named(Repository(s), body.campaign).id)
        by = who(caller)
        return bootstrap.do_not_call(s).add(list_name, body.numbers, scope=scope, by=by, reason=body.reason).as_dict()

    @router.post("/{list_name}/numbers/remove")
    def remove(list_name: str, body: NumbersIn, s: Store, caller: Staff) -> dict[str, Any]:
        """Take numbers off a list."""
        by = who(caller)
        return bootstrap.do_not_call(s).remove(list_name, body.numbers, by=by, reason=body.reason).as_dict()

    @router.get("/check/{number}")
    def check(number: str, campaign: str, s: Store, _: Staff) -> dict[str, Any]:
        """Whether the campaign may call the number now, and which lists were looked at."""
        e164 = check_number(number)
        verdict = bootstrap.do_not_call(s).check(e164, campaign_named(Repository(s), campaign).id)
        return {"number": e164, "may_call": not verdict.listed_on, "listed_on": list(verdict.listed_on), "checked": list(verdict.checked)}

    return router
