"""The live service's HTTP routes: agents' commands (R15-R18), their live stream (offers and
screen pops, R9, as server-sent events), and what a supervisor watches (agents by state, queue
depth). Every command runs on the dialler's thread (``LiveService.call``); a refused one gets the
API's usual JSON errors (404, 409, 422), a stopping service 503."""

import asyncio
import json
import queue
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from dialer_domain.model.agent import AgentSession
from dialer_domain.service_layer.engine import Dialler
from entrypoints.auth import ActingAs, Staff
from entrypoints.presenters import list_view
from entrypoints.service import SUPERVISORS, LiveService, ServiceStopped

T = TypeVar("T")


class LogIn(BaseModel):
    skills: list[str] = Field(min_length=1, description="The queues' skills the agent serves (R15).")
    name: str = ""
    phone: str | None = Field(None, description="The agent's phone or SIP address: called once and held for the session.")


class Pause(BaseModel):
    reason_code: str = Field(description="admin, break, training, ... (the configured list)")
    note: str = ""


class Decline(BaseModel):
    reason: str = "declined by agent"


class Dispose(BaseModel):
    code: str = Field(description="A wrap-up code: R18's defaults or the campaign's own.")
    note: str = ""
    callback_at: datetime | None = Field(None, description="R12: a callback at this time (with a time zone); a code that books one needs it.")
    answers: dict[str, str] = Field(default_factory=dict, description="R18: the call guide's answers, question: answer.")
    personal_callback: bool = Field(False, description="R12: the callback is yours (it waits for you); else any agent's.")
    ready: bool = Field(False, description="And ready for the next call: both in one step, or neither (a 409 names why).")


class Extend(BaseModel):
    seconds: float = Field(gt=0, le=3600)


def _session(s: AgentSession) -> dict[str, Any]:
    return {
        "agent": s.agent_id,
        "state": s.state.value,
        "since": s.state_since.isoformat() if s.state_since else None,
        "skills": list(s.skills),
        "offer_id": str(s.offer_id) if s.offer_id else None,
        "call_id": str(s.call_id) if s.call_id else None,
        "on_hold": s.held_since is not None,
    }


def live_router(service: LiveService) -> APIRouter:
    router = APIRouter(tags=["live"])

    def run(fn: Callable[[Dialler], T]) -> T:
        return service.call(fn)

    def act(agent: str, action: Callable[[Dialler], object]) -> dict[str, Any]:
        """Run the agent's command, then answer with their session as it is after it."""

        def step(e: Dialler) -> dict[str, Any]:
            action(e)
            return _session(e.agent(agent))

        return service.call(step)

    @router.post("/agents/{agent}/login")
    def log_in(_: ActingAs, agent: str, body: LogIn) -> dict[str, Any]:
        """Log in with skills (and a phone to hold the leg on)."""
        return _session(run(lambda e: e.log_in(agent, name=body.name, skills=tuple(body.skills), phone=body.phone)))

    @router.post("/agents/{agent}/ready")
    def ready(_: ActingAs, agent: str) -> dict[str, Any]:
        return act(agent, lambda e: e.ready(agent))

    @router.post("/agents/{agent}/pause")
    def pause(_: ActingAs, agent: str, body: Pause) -> dict[str, Any]:
        return act(agent, lambda e: e.pause(agent, body.reason_code, body.note))

    @router.post("/agents/{agent}/offers/{offer}/accept")
    def accept(_: ActingAs, agent: str, offer: UUID) -> dict[str, Any]:
        call = run(lambda e: e.accept_offer(agent, offer))
        return {"agent": agent, "call_id": str(call) if call else None}

    @router.post("/agents/{agent}/offers/{offer}/decline")
    def decline(_: ActingAs, agent: str, offer: UUID, body: Decline) -> dict[str, Any]:
        return act(agent, lambda e: e.decline_offer(agent, offer, body.reason))

    @router.post("/agents/{agent}/hangup")
    def hang_up(_: ActingAs, agent: str) -> dict[str, Any]:
        """The agent ends the connected call (or, while a contact rings for them, leaves it: R6)."""

        def step(e: Dialler) -> dict[str, Any]:
            s = e.agent(agent)
            call = e.calls.get(s.call_id) if s.call_id is not None else None
            if call is not None and call.connected:
                e.end_call(agent)
            else:
                e.agent_hung_up(agent)
            return _session(e.agent(agent))

        return run(step)

    @router.post("/agents/{agent}/hold")
    def hold(_: ActingAs, agent: str) -> dict[str, Any]:
        """Put the person on hold (music; your line stays open). Hanging up is refused until you resume."""
        return act(agent, lambda e: e.hold(agent, True))

    @router.post("/agents/{agent}/resume")
    def resume(_: ActingAs, agent: str) -> dict[str, Any]:
        """Take the person off hold."""
        return act(agent, lambda e: e.hold(agent, False))

    @router.post("/agents/{agent}/dispose")
    def dispose(_: ActingAs, agent: str, body: Dispose) -> dict[str, Any]:
        b = body
        return act(agent, lambda e: e.dispose(agent, b.code, b.note, b.callback_at, b.answers, b.personal_callback, then_ready=b.ready))

    @router.post("/agents/{agent}/wrapup/extend")
    def extend(_: ActingAs, agent: str, body: Extend) -> dict[str, Any]:
        return act(agent, lambda e: e.extend_wrapup(agent, body.seconds))

    @router.post("/agents/{agent}/logout")
    def log_out(_: ActingAs, agent: str) -> dict[str, Any]:
        return act(agent, lambda e: e.log_out(agent))

    @router.get("/agents/{agent}")
    def agent_state(_: ActingAs, agent: str) -> dict[str, Any]:
        return run(lambda e: _session(e.agent(agent)))

    async def sse(key: str, request: Request) -> StreamingResponse:
        q = service.people.subscribe(key)
        # the state as it is first, then its changes (asked off the event loop)
        snapshot = service.supervisor_snapshot if key == SUPERVISORS else (lambda: service.agent_snapshot(key))
        for event in await asyncio.to_thread(snapshot):
            q.put(event)

        async def stream() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        event = q.get_nowait()
                    except queue.Empty:
                        await asyncio.sleep(0.05)
                        continue
                    yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
            finally:
                service.people.unsubscribe(key, q)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @router.get("/agents/{agent}/events")
    async def events(_: ActingAs, agent: str, request: Request) -> StreamingResponse:
        """Server-sent events: ``offer`` and ``connected`` carry the screen pop (the contact's data and
        variables, R9); ``wrapup`` when wrap-up starts."""
        return await sse(agent, request)

    @router.get("/supervisor/events")
    async def supervisor_events(_: Staff, request: Request) -> StreamingResponse:
        """Server-sent events for supervisors: ``agent`` (an agent's new state) and ``campaign`` (its
        status, queue depth and calls in progress), when they change."""
        return await sse(SUPERVISORS, request)

    @router.get("/supervisor/agents")
    def agents(_: Staff) -> list[dict[str, Any]]:
        """Every agent who has logged in today, with their state."""
        return run(lambda e: [_session(s) for _, s in sorted(e.agents.items())])

    @router.get("/supervisor/queues")
    def queues(_: Staff) -> list[dict[str, Any]]:
        """Each campaign's queue depth, calls in progress and compliance: its rolling abandon rates
        (24 hours, 30 days) against its cap and how pacing takes them, and the dials refused in the
        last 24 hours by rule, with the last reason (issue 16)."""

        def step(e: Dialler) -> list[dict[str, Any]]:
            calls = Counter(call.campaign_id for call in e.calls.values())
            now = e.clock.now()
            return [
                {
                    "campaign": c.name,
                    "status": c.status.value,
                    "mode": c.dial_mode.value,
                    "queued": e.queue.queued_count(c.id),
                    "list": list_view(c, *e.queue.listed(c.id)),
                    "calls": calls[c.id],
                    "compliance": e.compliance_now(c, now),
                }
                for c in sorted(e.campaigns.values(), key=lambda c: c.name)
                if c.settings is not None
            ]

        return run(step)

    return router


def install_stopping_handler(app: FastAPI) -> None:
    def stopping(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    app.add_exception_handler(ServiceStopped, stopping)
