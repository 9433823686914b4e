"""The HTTP API (FastAPI): single contacts (add, read, edit, withdraw), list uploads and their
history, and assignment to agents. Puzzel's Dialer API is the model. OpenAPI at /docs.

The process opens the store named by DIALER_DATABASE_URL (or the URL given to ``create_app``) once,
on its first request, and shares it (one connection pool) between requests until it stops.
Bad input gets a 4xx naming what was wrong: 404 unknown campaign or contact, 409 a command the
state does not allow (a duplicate key, a contact in a call), 422 an invalid value.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import uuid4

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from adapters import lists
from adapters.lists.phone import normalise
from adapters.persistence.codec import make_event_converter
from adapters.persistence.eventstore import RecorderEventStore
from dialer_domain.model.contact import ContactAttempt
from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.identities import contact_id_for
from dialer_domain.model.values import ContactData, ImportMode
from dialer_domain.service_layer import handlers
from dialer_domain.service_layer.handlers import (
    add_contact,
    assign_contacts,
    campaign_named,
    contact_named,
    edit_contact,
    import_history,
    withdraw_contact,
)
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap

if TYPE_CHECKING:
    from entrypoints.service import LiveService
from entrypoints.api_guards import ERROR_RESPONSES, BodyLimit, install_error_handlers, upload_name
from entrypoints.auth import ActingAs, Staff

_conv = make_event_converter()


class ContactIn(BaseModel):
    key: str = Field(min_length=1, max_length=200, description="The contact's unique key in the campaign's list.")
    numbers: list[str] = Field(min_length=1, max_length=10, description="Phone numbers in dialling order (R8).")
    name: str = ""
    time_zone: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    priority: int = Field(5, ge=1, le=10)
    agent: str | None = None


class ContactEdit(BaseModel):
    numbers: list[str] | None = Field(None, min_length=1, max_length=10)
    name: str | None = None
    time_zone: str | None = None
    variables: dict[str, str] | None = None
    priority: int | None = Field(None, ge=1, le=10)


class ManualAssignment(BaseModel):
    agent: str | None = Field(description="The agent, or null to unassign.")
    keys: list[str] = Field(min_length=1)


class AutoAssignment(BaseModel):
    agents: list[str] = Field(min_length=1)


class SharedStore:
    """One store (and pool) per process, opened by the first request that needs it."""

    def __init__(self, url: str | None, store: RecorderEventStore | None = None) -> None:
        self.url = url
        self._store: RecorderEventStore | None = store
        self._owned = store is None  # a store given by the caller is the caller's to close
        self._lock = threading.Lock()

    def get(self) -> RecorderEventStore:
        with self._lock:
            if self._store is None:
                self._store = bootstrap.store(self.url)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None and self._owned:
                self._store.close()
                self._store = None


def shared_store(request: Request) -> RecorderEventStore:
    holder: SharedStore = request.app.state.store
    return holder.get()


Store = Annotated[RecorderEventStore, Depends(shared_store)]


def create_app(url: str | None = None, *, service: LiveService | None = None) -> FastAPI:
    """The HTTP API; with a live ``service`` (``dialer serve``) also the agents' and supervisors'
    routes, their live streams and the telephony's webhooks, on the service's store."""
    holder = SharedStore(url, store=service.store if service is not None else None)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if service is not None:
            service.start()
        yield
        if service is not None:
            service.stop()  # SIGTERM: no new dials, calls in progress end, the log stays consistent
        holder.close()

    # the /docs page's scripts and styles are served by the app itself (fastapi-offline), not a CDN
    app = FastAPIOffline(title="dialer-core", version="0.1.0", description=__doc__, lifespan=lifespan, responses=ERROR_RESPONSES)
    app.state.url = url
    app.state.store = holder
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    from entrypoints.admin_api import admin_router

    app.include_router(admin_router())
    from entrypoints.callback_api import callback_router

    app.include_router(callback_router())
    from entrypoints.dnc_api import dnc_router

    app.include_router(dnc_router())
    if service is not None:
        from adapters.telephony.twilio import TwilioTelephony
        from entrypoints.live_api import install_stopping_handler, live_router
        from entrypoints.twilio_webhooks import twilio_router

        app.include_router(live_router(service))
        install_stopping_handler(app)
        if isinstance(service.telephony, TwilioTelephony):
            app.include_router(twilio_router(service.telephony))

    @app.exception_handler(lists.ImportRejected)
    def import_rejected(_: Request, exc: lists.ImportRejected) -> JSONResponse:
        rejects = [{"line": ln, "key": k, "reason": r} for ln, k, r in exc.rejects[:1000]]
        return JSONResponse({"detail": str(exc), "rejects": rejects}, status_code=422)

    def view(c: ContactAttempt) -> dict[str, Any]:
        return {
            "id": str(c.id),
            "key": c.key,
            "state": c.state.value,
            "numbers": [n.e164 for n in c.numbers],
            "name": c.data.name,
            "time_zone": c.data.time_zone,
            "variables": dict(c.data.variables),
            "priority": c.priority,
            "agent": c.assigned_agent,
            "attempts": c.attempts,
            "disposition": c.disposition,
            "callback_at": c.callback_at.isoformat() if c.callback_at else None,
            "version": c.version,
        }

    @app.post("/campaigns/{campaign}/contacts", status_code=201)
    def add(campaign: str, body: ContactIn, s: Store, _: Staff) -> dict[str, Any]:
        repo = Repository(s)
        camp = campaign_named(repo, campaign)
        numbers = tuple(normalise(n, camp.config.default_region) for n in body.numbers)
        c = add_contact(
            repo,
            camp.id,
            key=body.key,
            numbers=numbers,
            data=ContactData(name=body.name, time_zone=body.time_zone, variables=body.variables),
            priority=body.priority,
            assigned_agent=body.agent,
            at=bootstrap.WallClock().now(),
        )
        return view(c)

    @app.get("/campaigns/{campaign}/contacts/{key:path}")
    def read(campaign: str, key: str, s: Store, _: Staff) -> dict[str, Any]:
        repo = Repository(s)
        return view(contact_named(repo, campaign_named(repo, campaign), key))

    @app.put("/campaigns/{campaign}/contacts/{key:path}")
    def edit(campaign: str, key: str, body: ContactEdit, s: Store, _: Staff) -> dict[str, Any]:
        repo = Repository(s)
        camp = campaign_named(repo, campaign)
        numbers = tuple(normalise(n, camp.config.default_region) for n in body.numbers) if body.numbers else None
        c = edit_contact(
            repo,
            camp,
            key,
            numbers=numbers,
            name=body.name,
            time_zone=body.time_zone,
            variables=body.variables,
            priority=body.priority,
            source="api",
            at=bootstrap.WallClock().now(),
        )
        return view(c)

    @app.delete("/campaigns/{campaign}/contacts/{key:path}")
    def withdraw(campaign: str, key: str, s: Store, _: Staff) -> dict[str, Any]:
        """Withdraw the contact: it is never dialled again, and its history is kept."""
        repo = Repository(s)
        return view(withdraw_contact(repo, campaign_named(repo, campaign), key, reason="deleted through the API", at=bootstrap.WallClock().now()))

    @app.post("/campaigns/{campaign}/imports", status_code=201)
    def upload(
        campaign: str,
        s: Store,
        _: Staff,
        file: Annotated[UploadFile, File(description="CSV list file")],
        mode: Annotated[ImportMode, Query()] = ImportMode.APPEND,
        skip_invalid: Annotated[bool, Query()] = False,
        max_withdraw: Annotated[float, Query(ge=0.0, le=1.0, description="replace: refuse a file that would withdraw more than this share.")] = 0.5,
        force: Annotated[bool, Query(description="replace: withdraw however much of the list the file leaves out.")] = False,
        encoding: Annotated[str, Query(max_length=40, description="The file's encoding, e.g. cp1252 for a spreadsheet's export.")] = "utf-8",
    ) -> dict[str, Any]:
        repo = Repository(s)
        camp = campaign_named(repo, campaign)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / upload_name(file.filename)
            with open(path, "wb") as fh:
                while block := file.file.read(1 << 20):
                    fh.write(block)
            report, rejects = lists.import_file(
                s,
                camp.id,
                path,
                mode=mode,
                at=bootstrap.WallClock().now(),
                ids=uuid4,
                skip_invalid=skip_invalid,
                max_withdraw_share=max_withdraw,
                force=force,
                encoding=encoding,
            )
        out = {k: v for k, v in report.as_event_fields().items()}
        out["mode"] = report.mode.value
        out["rejects"] = [{"line": ln, "key": k, "reason": r} for ln, k, r in rejects[:1000]]
        return out

    @app.get("/campaigns/{campaign}/imports")
    def history(campaign: str, s: Store, _: Staff) -> list[dict[str, Any]]:
        repo = Repository(s)
        history = import_history(repo, campaign_named(repo, campaign))
        entries = [{"outcome": "imported" if e.NAME == "ListImported" else "refused", **_conv.unstructure(e)} for e in history]
        return [{k: v for k, v in e.items() if k not in ("originator_id", "originator_version")} for e in entries]

    @app.post("/campaigns/{campaign}/agents/{agent}/obtain")
    def obtain(campaign: str, agent: str, s: Store, _: ActingAs) -> dict[str, Any]:
        """R13: the agent takes up to "max per click" unassigned contacts; refused at "max held"."""
        repo = Repository(s)
        camp = campaign_named(repo, campaign)
        got = handlers.obtain(repo, bootstrap.queue_reader(s), camp.id, agent, at=bootstrap.WallClock().now())
        return {"agent": agent, "obtained": [repo.get(ContactAttempt, c).key for c in got]}

    @app.post("/campaigns/{campaign}/assignments")
    def assign(campaign: str, body: ManualAssignment, s: Store, _: Staff) -> dict[str, Any]:
        repo = Repository(s)
        camp = campaign_named(repo, campaign)
        for k in body.keys:
            contact_named(repo, camp, k)
        n = assign_contacts(repo, [contact_id_for(camp.id, k) for k in body.keys], body.agent, by="api", at=bootstrap.WallClock().now())
        return {"agent": body.agent, "changed": n}

    @app.post("/campaigns/{campaign}/assignments/auto")
    def assign_auto(campaign: str, body: AutoAssignment, s: Store, _: Staff) -> dict[str, int]:
        repo = Repository(s)
        camp = campaign_named(repo, campaign)
        if len(set(body.agents)) != len(body.agents):
            raise InvalidValue("an agent is named twice")
        return handlers.assign_all_evenly(repo, bootstrap.queue_reader(s), camp.id, body.agents, at=bootstrap.WallClock().now())

    return app


app = create_app()
