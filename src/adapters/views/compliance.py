"""The compliance report of a campaign over a period (issue 16), read from the log: the fold is
``dialer_domain.rules.compliance``; holidays come from the callee calendar."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from adapters.lists.calendar import PhoneCalendar
from dialer_domain.model.campaign import Campaign
from dialer_domain.rules.compliance import EVENTS, ComplianceFold
from dialer_domain.rules.schedule import zone
from dialer_domain.service_layer.handlers import campaign_named
from dialer_domain.service_layer.ports import EventStore
from dialer_domain.service_layer.repository import Repository, iter_log


def compliance_report(store: EventStore, campaign: str, first_day: date, last_day: date) -> dict[str, Any]:
    """Dials from the start of ``first_day`` to the end of ``last_day``, in the campaign's zone."""
    if last_day < first_day:
        raise ValueError(f"the period ends ({last_day}) before it starts ({first_day})")
    c: Campaign = campaign_named(Repository(store), campaign)
    tz = zone(c.hours.time_zone if c.hours is not None else "UTC")
    start = datetime.combine(first_day, time(0), tzinfo=tz)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz)
    fold = ComplianceFold()
    for r in iter_log(store, topics=tuple(e.NAME for e in EVENTS), reads=ComplianceFold.READS):  # decoded as far as it reads (ADR 0037)
        if r.event.timestamp >= end:
            break
        fold.apply(r.event)
    report = fold.report(c.id, start, end, PhoneCalendar().holiday)
    return {"campaign": c.name, "time_zone": str(tz), "generated_at": datetime.now(tz).isoformat(timespec="seconds"), **report}
