"""Campaign administration over HTTP (supervisors and administrators): create a campaign, read
it, change any R5 setting, its priority, dial mode, opening hours and exceptions, and its status
(enabled, disabled, automatic); today's figures from the statistics view; audit trails (R20)."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import attrs
from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from adapters.lists.phone import caller_id
from adapters.persistence.eventstore import RecorderEventStore
from adapters.views import audit
from dialer_domain.model.campaign import Campaign
from dialer_domain.model.errors import InvalidValue
from dialer_domain.model.values import CampaignStatus, DialMode, GuideQuestion
from dialer_domain.rules.figures import CampaignFigures
from dialer_domain.rules.schedule import parse_opening_hours
from dialer_domain.service_layer.campaign_admin import change_selection, configure_campaign, settings_from
from dialer_domain.service_layer.handlers import CampaignSpec, all_campaigns, campaign_named, create_campaign, set_campaign_status
from dialer_domain.service_layer.repository import Repository
from entrypoints import bootstrap
from entrypoints.api import Store
from entrypoints.auth import Staff, who
from entrypoints.presenters import campaign_view, list_view

DAY_HELP = "YYYY-MM-DD in the campaign's time zone (default: its today)"


class Hours(BaseModel):
    weekly: str = Field(description="e.g. 'mon-fri=09:00-12:00,13:00-17:00;sat=10:00-14:00'")
    time_zone: str = "Europe/Copenhagen"
    exceptions: list[str] = Field(default_factory=list, description="'2026-12-24=closed' or '2026-12-27=10:00-14:00'")


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    manager: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    priority: int = Field(5, ge=1, le=10)
    dial_mode: DialMode = DialMode.PROGRESSIVE
    settings: dict[str, Any] = Field(default_factory=dict, description="Any R5 setting (CampaignSettings); skill defaults to the name.")
    hours: Hours | None = None


class CampaignChange(BaseModel):
    settings: dict[str, Any] | None = Field(None, description="The settings to change; the others stay.")
    priority: int | None = Field(None, ge=1, le=10)
    dial_mode: DialMode | None = None
    hours: Hours | None = None
    no_hours: bool = Field(False, description="Remove the opening hours (a campaign in Automatic needs hours).")
    description: str | None = Field(None, max_length=2000)
    manager: str | None = Field(None, min_length=1, max_length=200)
    name: str | None = Field(None, min_length=1, max_length=200, description="A new name (409 if another campaign bears it).")


class GuideQuestionIn(BaseModel):
    question: str
    answers: list[str] = Field(default_factory=list, description="The answers to pick from; none: a free answer.")


class FilterIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    expression: str = Field(min_length=1, max_length=2000, description="e.g. region = 'north' and age >= 30")


class SelectionChange(BaseModel):
    """R10: what to change of the list selection; what is not given stays."""

    save: FilterIn | None = Field(None, description="Save (or replace) a named filter.")
    remove: str | None = Field(None, description="Remove a named filter.")
    active: str | None = Field(None, description="The filter to use; null: no filter (give the key to change it).")
    sort: str | None = Field(None, max_length=500, description="e.g. 'priority desc, variable.last_order asc'; '' : R11's order alone.")


class StatusIn(BaseModel):
    status: CampaignStatus


def _trail(trail: Any) -> dict[str, Any]:
    events = [{"at": e.at, "event": e.event, "stream": str(e.stream), "version": e.version, "cause": e.cause, "data": e.data} for e in trail.entries]
    encoded: dict[str, Any] = jsonable_encoder({"subject": trail.subject, "state": trail.state, "events": events}, custom_encoder={UUID: str})
    return encoded


def _hours(h: Hours | None) -> Any:
    return parse_opening_hours(h.weekly, h.time_zone, h.exceptions) if h is not None else None


def admin_router() -> APIRouter:
    router = APIRouter(tags=["campaigns"])

    @router.post("/campaigns", status_code=201)
    def create(body: CampaignIn, s: Store, caller: Staff) -> dict[str, Any]:
        """Create a campaign (disabled until its status changes)."""
        given = caller_id(body.settings, str(body.settings.get("default_region", "DK")))
        settings = settings_from({"skill": body.name, **given})
        spec = CampaignSpec(name=body.name, description=body.description, manager=body.manager, priority=body.priority, dial_mode=body.dial_mode)
        return campaign_view(create_campaign(Repository(s), spec, settings=settings, hours=_hours(body.hours), at=bootstrap.WallClock().now()))

    @router.get("/campaigns")
    def every_campaign(s: Store, _: Staff) -> list[dict[str, Any]]:
        """Every campaign, in the order they were created."""
        return [campaign_view(c) for c in all_campaigns(Repository(s))]

    @router.get("/campaigns/{campaign}")
    def read(campaign: str, s: Store, _: Staff) -> dict[str, Any]:
        return campaign_view(campaign_named(Repository(s), campaign))

    @router.patch("/campaigns/{campaign}")
    def change(campaign: str, body: CampaignChange, s: Store, caller: Staff) -> dict[str, Any]:
        """Change settings, priority, dial mode, opening hours, name, description or manager; what is not
        given stays. Each change is an event naming the caller's token; a change that breaks a rule
        (a ring time under 15 s, a caller ID that is not a number, a priority outside 1..10) is
        refused whole with the reason (422)."""
        repo = Repository(s)
        hours: Any = ...  # not given: they stay
        if body.no_hours:
            hours = None
        elif body.hours is not None:
            hours = _hours(body.hours)
        now = bootstrap.WallClock().now()
        c = campaign_named(repo, campaign)
        given = caller_id(body.settings or {}, str((body.settings or {}).get("default_region", c.config.default_region)))
        changed = configure_campaign(
            repo,
            c,
            settings=given,
            priority=body.priority,
            dial_mode=body.dial_mode,
            hours=hours,
            description=body.description,
            manager=body.manager,
            name=body.name,
            by=who(caller),
            at=now,
        )
        return campaign_view(changed)

    @router.put("/campaigns/{campaign}/status")
    def status(campaign: str, body: StatusIn, s: Store, caller: Staff) -> dict[str, Any]:
        """Enabled, disabled, or automatic (follows its opening hours)."""
        repo = Repository(s)
        by = who(caller)
        return campaign_view(set_campaign_status(repo, campaign_named(repo, campaign).id, body.status, by=by, at=bootstrap.WallClock().now()))

    @router.put("/campaigns/{campaign}/guide")
    def guide(campaign: str, body: list[GuideQuestionIn], s: Store, caller: Staff) -> dict[str, Any]:
        """R18: the campaign's call guide, whole (an empty list removes it); agents get it with each
        offer and call on their stream."""
        repo = Repository(s)
        c = campaign_named(repo, campaign)
        c.set_call_guide(tuple(GuideQuestion(q.question, tuple(q.answers)) for q in body), bootstrap.WallClock().now(), who(caller))
        repo.save(c)
        return campaign_view(c)

    def _selection(s: RecorderEventStore, c: Campaign) -> dict[str, Any]:
        sel = c.selection
        listed = list_view(c, *bootstrap.queue_reader(s).listed(c.id))
        return {"filters": dict(sel.filters), "active": sel.active, "sort": list(sel.sort), "list": listed}

    @router.get("/campaigns/{campaign}/selection")
    def selection(campaign: str, s: Store, _: Staff) -> dict[str, Any]:
        """R10: the campaign's filters, the active one, its sort order, and how much of the list the
        filter selects (with a warning when it selects nothing of a list that has contacts)."""
        return _selection(s, campaign_named(Repository(s), campaign))

    @router.patch("/campaigns/{campaign}/selection")
    def change_selection_(campaign: str, body: SelectionChange, s: Store, caller: Staff) -> dict[str, Any]:
        """R10: save or remove a named filter, choose the active one, set the sort order, in one
        event; it takes effect at the next queue top-up. A bad expression is refused (422) saying
        where and what."""
        repo = Repository(s)
        c = campaign_named(repo, campaign)
        use: Any = body.active if "active" in body.model_fields_set else ...
        save = (body.save.name, body.save.expression) if body.save else None
        changed = change_selection(repo, c, save=save, remove=body.remove, use=use, sort=body.sort, by=who(caller), at=bootstrap.WallClock().now())
        return _selection(s, changed)

    @router.get("/audit/contacts/{campaign}/{key:path}")
    def audit_contact(campaign: str, key: str, s: Store, _: Staff, as_of: datetime | None = None) -> dict[str, Any]:
        """R20: every event of a contact with its cause (the pacing decision behind each dial)."""
        return _trail(audit.contact_trail_by_key(s, campaign, key, as_of=as_of))

    @router.get("/audit/campaigns/{campaign}")
    def audit_campaign(campaign: str, s: Store, _: Staff, as_of: datetime | None = None, limit: int = Query(1000, ge=1, le=10**5)) -> dict[str, Any]:
        """R20: the campaign's history (its contacts' events too), oldest first."""
        return _trail(audit.campaign_trail(s, campaign, as_of=as_of, limit=limit))

    @router.get("/audit/agents/{agent}")
    def audit_agent(agent: str, s: Store, _: Staff, as_of: datetime | None = None) -> dict[str, Any]:
        """R20: an agent's sessions, offers, calls and dispositions."""
        return _trail(audit.agent_trail(s, agent, as_of=as_of))

    @router.get("/campaigns/{campaign}/figures")
    def figures(campaign: str, s: Store, caller: Staff, day: Annotated[str | None, Query(description=DAY_HELP)] = None) -> dict[str, Any]:
        """The campaign's figures for a day (R19), from the statistics view brought up to date."""
        from adapters.views import statistics as projections
        from dialer_domain.rules.schedule import local_time

        c = campaign_named(Repository(s), campaign)
        now = bootstrap.WallClock().now()
        when = day or (local_time(c.hours, now) if c.hours else now).date().isoformat()
        try:
            datetime.fromisoformat(when)
        except ValueError:
            raise InvalidValue(f"day {when!r} is not a date like 2026-11-23") from None
        view = bootstrap.view(s.url)
        try:
            projections.catch_up(s, view)
            by_hour, _agents = projections.figures_from_counters(view.counters(kind="campaign_hour", k1=str(c.id), k2=when))
        finally:
            view.factory.close()
        total = CampaignFigures()
        hours = []
        for (_cid, _day, hour), fig in sorted(by_hour.items()):
            hours.append({"hour": hour, **attrs.asdict(fig)})
            total.add(fig)
        return {"campaign": c.name, "day": when, "total": attrs.asdict(total), "hours": hours}

    return router
