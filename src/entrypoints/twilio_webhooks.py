"""Twilio's webhooks on the HTTP entrypoint: call status, machine detection, agent legs, and the
TwiML Twilio fetches. Every request's ``X-Twilio-Signature`` is checked with the library's
``RequestValidator`` against the public URL the service is configured with; a missing or wrong
signature gets 403 and changes nothing.

(No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations, which
name a dependency local to ``twilio_router``.)"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from twilio.request_validator import RequestValidator

from adapters.telephony.twilio import TwilioTelephony

TWIML = "application/xml"


def twilio_router(telephony: TwilioTelephony) -> APIRouter:
    validator = RequestValidator(telephony.settings.auth_token)
    public = telephony.settings.public_url

    async def signed_form(request: Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(url, form, signature):
            raise HTTPException(403, "the request does not carry a valid X-Twilio-Signature for this service's public URL")
        return form

    Form = Annotated[dict[str, str], Depends(signed_form)]
    router = APIRouter(prefix="/twilio", tags=["twilio"])

    @router.post("/status/{call_id}", status_code=204)
    def status(call_id: UUID, form: Form) -> Response:
        """A contact's call status callback (initiated, ringing, in-progress, completed, busy, ...)."""
        telephony.on_status(call_id, form)
        return Response(status_code=204)

    @router.post("/amd/{call_id}", status_code=204)
    def amd(call_id: UUID, form: Form) -> Response:
        """The asynchronous answering-machine detection's verdict (AnsweredBy)."""
        telephony.on_amd(call_id, form)
        return Response(status_code=204)

    @router.post("/legs/{agent_id}", status_code=204)
    def leg(agent_id: str, form: Form, room: str | None = None) -> Response:
        """An agent's leg's status callback (``room``: the conference the leg was made for)."""
        telephony.on_leg_status(agent_id, form, room)
        return Response(status_code=204)

    @router.post("/twiml/contact/{call_id}")
    def contact_twiml(call_id: UUID, form: Form) -> Response:
        return Response(telephony.contact_twiml(call_id), media_type=TWIML)

    @router.post("/twiml/agent/{agent_id}")
    def agent_twiml(agent_id: str, form: Form) -> Response:
        return Response(telephony.agent_twiml(agent_id), media_type=TWIML)

    return router
